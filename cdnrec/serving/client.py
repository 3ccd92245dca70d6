"""A client of TF Serving's REST API (`cdnrec serve` or TF Serving itself)."""

import json
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional


class ServerError(RuntimeError):
  """The server answered with an error status (the message is its reason),
  or could not be reached (status 0)."""

  def __init__(self, status: int, message: str):
    super().__init__(f"HTTP {status}: {message}" if status else message)
    self.status = status


def _call(url: str, body: Optional[Dict[str, Any]] = None,
          timeout: float = 30.0) -> Dict[str, Any]:
  data = None if body is None else json.dumps(body).encode()
  request = urllib.request.Request(
      url, data=data, headers={"Content-Type": "application/json"},
      method="GET" if body is None else "POST")
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return json.loads(response.read())
  except urllib.error.HTTPError as e:
    text = e.read().decode(errors="replace")
    try:
      text = json.loads(text).get("error", text)
    except json.JSONDecodeError:
      pass
    raise ServerError(e.code, text) from None
  except (urllib.error.URLError, OSError) as e:
    reason = getattr(e, "reason", e)
    raise ServerError(0, f"cannot reach {url}: {reason}") from None


def status(server: str, model: str) -> Dict[str, Any]:
  return _call(f"{server.rstrip('/')}/v1/models/{model}")


def metadata(server: str, model: str) -> Dict[str, Any]:
  return _call(f"{server.rstrip('/')}/v1/models/{model}/metadata")


def input_types(server: str, model: str,
                signature_name: str = "serve_features") -> Dict[str, str]:
  """Input name -> TF dtype name ("DT_STRING", "DT_FLOAT") of a signature."""
  signatures = metadata(server, model)["metadata"]["signature_def"][
      "signature_def"]
  return {name: info["dtype"] for name, info in
          signatures[signature_name]["inputs"].items()}


def predict(server: str, model: str, instances: List[Dict[str, Any]],
            signature_name: str = "serve_features",
            k: Optional[int] = None) -> List[Dict[str, Any]]:
  """Row-format predict; one {"item_ids", "scores"} per instance."""
  body: Dict[str, Any] = {"signature_name": signature_name,
                          "instances": instances}
  if k is not None:
    body["k"] = k
  return _call(f"{server.rstrip('/')}/v1/models/{model}:predict",
               body)["predictions"]
