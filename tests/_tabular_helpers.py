"""What the tabular estimators' scikit-learn checks are expected to fail,
for every parametrize_with_checks of them (one list, one reason)."""


def expected_failed_checks(estimator):
    # a weight of 2 and a row given twice train differently: each member
    # draws its held-out rows and its minibatches from the rows as given, so
    # a repeated row can land in both the training and the held-out rows
    return {"check_sample_weight_equivalence_on_dense_data":
            "stochastic: minibatches and held-out rows are drawn from the rows as given"}
