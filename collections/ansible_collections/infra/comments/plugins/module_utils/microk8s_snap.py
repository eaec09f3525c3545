# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the microk8s snap puts things on a node: the one place the collection writes these paths.

The ``microk8s_addon`` module looks its command up in SNAP_BIN_DIR; the roles read PATHS through the
``infra.comments.microk8s_snap`` lookup (their Helm binary, kubeconfig, command and data folder).
"""

# snapd's folder of snap commands (on PATH for login shells, not always for Ansible's).
SNAP_BIN_DIR = "/snap/bin"
# $SNAP_DATA of the microk8s snap: its arguments, certificates and credentials, for the current revision.
SNAP_DATA_DIR = "/var/snap/microk8s/current"

PATHS = {
    # The microk8s command.
    "microk8s": SNAP_BIN_DIR + "/microk8s",
    # The Helm 3 client the snap ships (its helm3 addon), so a node needs no other Helm.
    "helm": SNAP_BIN_DIR + "/microk8s.helm3",
    "data": SNAP_DATA_DIR,
    # The admin kubeconfig microk8s writes for its own API server; kubernetes.core uses it on the node.
    "kubeconfig": SNAP_DATA_DIR + "/credentials/client.config",
}
