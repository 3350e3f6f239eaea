"""What several kinds rotate with, written once: the target adapter's base (``target``), the ownership proof
(``ownership``), the alternating pair of users (``alternating``), the two-password overlap (``overlap``) and the
bounded wait for a target still applying a change (``waiting``)."""
