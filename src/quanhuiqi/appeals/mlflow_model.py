"""The appeals model as an MLflow pyfunc, logged as code (MLflow's "models from code"): nothing pickled.

MLflow runs this file when it loads the model generically (``mlflow.pyfunc.load_model``); the model
itself is the ``appeals_model`` artifact folder (``arrays.npz`` + ``model.json``), which
:func:`quanhuiqi.appeals.load_appeals_model` reads directly.
"""

import mlflow
from mlflow.pyfunc import PythonModel


class AppealsPyfunc(PythonModel):
    """``predict(appeals table)`` → the route table of :func:`quanhuiqi.appeals.route_appeals`."""

    def load_context(self, context):
        from quanhuiqi.appeals.model import AppealsModel

        self.model = AppealsModel.load(context.artifacts["appeals_model"])

    def predict(self, context, model_input, params=None):
        from quanhuiqi.appeals.route import route_appeals
        from quanhuiqi.appeals.validate import validate_appeals

        v = validate_appeals(model_input, require_received=False)
        return route_appeals(self.model, v.clean)


mlflow.models.set_model(AppealsPyfunc())
