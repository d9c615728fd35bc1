"""Every action the code records in the audit log has a label the audit page shows (an
operator reads "客户数据已删除", not `privacy.customer_erased`)."""

import ast
from pathlib import Path

from django.utils import translation

from accounts.audit import AUDIT_ACTIONS, audit_action_label

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", ".local", "node_modules", "tests", "bench", "wecom_sandbox", "migrations"}


def _recorded_actions() -> dict[str, str]:
    """action -> file, for every `audit_record(..., action="...")` and `*_ACTION = "..."`."""
    found: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        if SKIPPED & set(path.relative_to(ROOT).parts):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                for keyword in node.keywords if name == "audit_record" else []:
                    value = keyword.value
                    if keyword.arg == "action" and isinstance(value, ast.Constant):
                        found[str(value.value)] = str(path.relative_to(ROOT))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.endswith("_ACTION"):
                        found[str(node.value.value)] = str(path.relative_to(ROOT))
    return found


def test_every_recorded_action_has_a_label():
    recorded = _recorded_actions()

    assert len(recorded) > 50  # the scan finds the calls
    missing = {action: path for action, path in recorded.items() if action not in AUDIT_ACTIONS}
    assert not missing, f"audit actions without a label in accounts/audit.py: {missing}"


def test_labels_are_translated():
    with translation.override("zh-hans"):
        assert audit_action_label("privacy.customer_erased") == "客户数据已删除"
        untranslated = [a for a, label in AUDIT_ACTIONS.items() if str(label).isascii()]
    assert not untranslated
