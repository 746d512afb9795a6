"""What the tabular estimators' scikit-learn checks are expected to fail,
for every parametrize_with_checks of them (one list, one reason each)."""
from sklearn.base import is_classifier


def expected_failed_checks(estimator):
    failing = {
        # a weight of 2 and a row given twice train differently: each member
        # draws its held-out rows and its minibatches from the rows as given,
        # so a repeated row can land in both the training and held-out rows
        "check_sample_weight_equivalence_on_dense_data":
            "stochastic: minibatches and held-out rows are drawn from the rows as given",
    }
    if is_classifier(estimator):
        # class_weight {0: 1000, others: 1e-4} on 50 noisy rows: the weighted
        # held-out accuracy is 1 - 1e-7 from the first epochs, and the best
        # epoch (by 1e-7) is an early, undertrained one (72% class 0 against
        # the 87% asked; 100% with best_epoch=False). Some configurations
        # pass (three members, periodic_dim=3): not strict, so they XPASS
        failing["check_class_weight_classifiers"] = (
            "best-epoch selection on a held-out accuracy that extreme class weights "
            "make ~1 from the first epochs keeps an early epoch")
    return failing
