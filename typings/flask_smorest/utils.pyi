from collections.abc import Mapping
from typing import Any

def deepupdate(original: Any, update: Mapping[str, Any]) -> Any: ...
