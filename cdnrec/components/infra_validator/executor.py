"""TFX's InfraValidator executor, with the pod identity its Kubernetes
runner asks for filled in where the orchestrator does not set it.

TFX's KubernetesRunner starts TF Serving beside the pod it runs in, and
finds that pod through KFP_POD_NAME and KFP_NAMESPACE, which Kubeflow
Pipelines v1 set. Where they are missing, a pod's own name (its hostname)
and its namespace (the service account's namespace file, or NAMESPACE)
say the same; without them the runner would refuse to start and the model
would be judged unservable.
"""

import os
import socket
from typing import Any, Dict, List

from tfx import types
from tfx.components.infra_validator import executor as tfx_executor
from tfx.utils import kube_utils

NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def fill_pod_identity(environ=os.environ,
                      namespace_file: str = NAMESPACE_FILE) -> None:
  """Sets KFP_POD_NAME and KFP_NAMESPACE inside a Kubernetes pod when
  they are not set; outside a cluster it does nothing."""
  if "KUBERNETES_SERVICE_HOST" not in environ:
    return
  environ.setdefault(kube_utils.KFP_POD_NAME, socket.gethostname())
  if kube_utils.KFP_NAMESPACE not in environ:
    namespace = environ.get("NAMESPACE") or environ.get("POD_NAMESPACE")
    if not namespace and os.path.exists(namespace_file):
      with open(namespace_file) as f:
        namespace = f.read().strip()
    if namespace:
      environ[kube_utils.KFP_NAMESPACE] = namespace


class Executor(tfx_executor.Executor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    fill_pod_identity()
    super().Do(input_dict, output_dict, exec_properties)
