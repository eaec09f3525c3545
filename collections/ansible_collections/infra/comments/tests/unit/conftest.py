# Copyright: infra.comments contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.infra.comments`` importable when pytest runs from the collection folder.

ansible-test does this itself; ``make units`` runs plain pytest, so the folder holding
``ansible_collections/`` goes on sys.path here.
"""

import os
import sys

_COLLECTIONS_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", ".."))
if _COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, _COLLECTIONS_ROOT)
