"""Where router models live, and a per-process cache of the loaded one.

- the shipped cold-start model: ``fengqiao/routing/model/router.npz`` (trained on the Teddy-Cup train rows);
- a deployment's own model (``fengqiao train-router``): ``DATA_DIR/routing/router.npz`` by default;
- ``settings.ROUTER_MODEL`` (when set) names the model to use, overriding both.

The active model is the configured one, else the deployment's own when it exists, else the shipped one.
"""

import threading
from pathlib import Path

from django.conf import settings

from fengqiao.routing.classifier import Classifier

SHIPPED = Path(__file__).resolve().parent / "model" / "router.npz"
_cache = {}
_lock = threading.Lock()


def deployment_path():
    return Path(settings.DATA_DIR) / "routing" / "router.npz"


def active_path():
    configured = getattr(settings, "ROUTER_MODEL", None)
    if configured:
        return Path(configured)
    own = deployment_path()
    return own if own.is_file() else SHIPPED


def get_classifier(path=None):
    """The model at `path` (default: the active one), loaded once per process and again when the file changes."""
    path = Path(path) if path is not None else active_path()
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    with _lock:
        if key is not None and _cache.get("key") == key:
            return _cache["classifier"]
        classifier = Classifier.load(path)  # raises ModelFileError naming the file
        _cache.update(key=key, classifier=classifier)
        return classifier
