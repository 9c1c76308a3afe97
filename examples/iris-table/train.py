"""Train the iris classifier and save its weights: `python train.py` in this folder.

Needs numpy and scikit-learn (the app itself needs only numpy). The weights go to
weights.npz as plain arrays (no pickle): the scaler's mean and scale, the logistic
regression's coefficients and intercepts, and the species names.
"""
from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    iris = load_iris()
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    scores = cross_val_score(pipeline, iris.data, iris.target, cv=5)
    print(f"5-fold accuracy: {scores.mean():.3f}")
    pipeline.fit(iris.data, iris.target)
    scaler, clf = pipeline[0], pipeline[1]
    np.savez_compressed("weights.npz", mean=scaler.mean_, scale=scaler.scale_,
                        coef=clf.coef_, intercept=clf.intercept_,
                        species=iris.target_names[clf.classes_].astype(str))
    print("wrote weights.npz")


if __name__ == "__main__":
    main()
