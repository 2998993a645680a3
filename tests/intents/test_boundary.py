import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ml_package_never_imports_django() -> None:
    package = ROOT / "intents"
    modules = sorted(
        ".".join(p.relative_to(package).with_suffix("").parts) for p in package.rglob("*.py") if p.stem != "__init__"
    )
    code = "import sys\n" + "".join(f"import intents.{m}\n" for m in modules) + "print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert len(modules) >= 4 and "generation.responder" in modules
