"""The score that decides which models survive (muNet section 2.3).

score = validation accuracy * scale ** (accounted params / root params), where a
component shared by k tasks counts 1/k towards each. scale = 1.0 (the papers'
default) means no size penalty; 0.9 trades accuracy for fewer parameters.
"""


def score(validation_accuracy, accounted_params, root_params, scale=1.0):
    return float(validation_accuracy) * float(scale) ** (accounted_params / root_params)
