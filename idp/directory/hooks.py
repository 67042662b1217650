"""How packages above the directory act on its changes without the directory importing them.

`sign_ins_withdrawn` (blinker; sender: the application): these users (`user_ids`) may no
longer sign in, for `reason`. Sent in the caller's transaction; each receiver returns how
many sessions it ended. idp.sessions subscribes in its init_app: it ends their SSO sessions
and, through its own hooks, the protocol sends logout notices and revokes every grant.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()
sign_ins_withdrawn = _signals.signal("sign-ins-withdrawn")

# `units_merged` (sender: the application): the unit `source_id` was merged into `target_id`
# (its people and child units moved there, the source deactivated), in the caller's
# transaction. idp.admin subscribes: the source's delegated administrators follow.
units_merged = _signals.signal("units-merged")
