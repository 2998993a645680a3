import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ml_package_never_imports_django() -> None:
    modules = sorted(p.stem for p in (ROOT / "intents").glob("*.py") if p.stem != "__init__")
    code = "import sys\n" + "".join(f"import intents.{m}\n" for m in modules) + "print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert len(modules) >= 4
