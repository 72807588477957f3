"""DLWS-LIB-002: two frameworks of one environment whose cuDNN needs the library the other loads first cannot meet
(a different major, or the same major with an older minor); met or unknown needs stay quiet."""

from test_doctor_rules import CASES, fired, mutate


def machine(torch, tf, wheels):
    """healthy() with this torch build, this TensorFlow (None: none) and these nvidia-cudnn wheels {cuNN: version}."""
    def change(inv):
        version, cuda = torch
        inv["frameworks"]["torch"].update(version=version, build="cuda " + cuda, cuda=cuda)
        if tf:
            inv["frameworks"]["tensorflow"] = {"version": tf[0], "build": "cuda " + tf[1], "cuda": tf[1]}
        inv["cudnn"] = [{"version": v, "source": "pip:nvidia-cudnn-" + k} for k, v in wheels.items()]
    return mutate(change)


def test_torch_cuDNN_loaded_first_fails_tensorflow_and_the_fixes_are_concrete():
    (found,) = fired(mutate(CASES["DLWS-LIB-002"]), "DLWS-LIB-002")
    assert found.subject == "tensorflow" and found.evidence["import_order"] == "torch before tensorflow"
    assert found.evidence["cudnn"] == "8.7.0.84" and found.evidence["cudnn_needed"] == "8.9"
    assert "one virtual environment per framework" in found.fix
    assert "torch==2.1.2+cu121 (cuDNN 8.9.2.26)" in found.fix  # a torch build whose cuDNN meets TensorFlow's need
    assert "tensorflow[and-cuda]==2.14.*" in found.fix  # the TensorFlow built with torch's cuDNN 8.7


def test_tensorflow_without_a_cudnn_of_its_own_runs_on_torchs():
    (found,) = fired(machine(("2.1.2+cu118", "11.8"), ("2.15.0.post1", "12.2"), {}), "DLWS-LIB-002")
    assert found.evidence["brings"] is None and "brings no cuDNN of its own" in found.fix


def test_an_older_tensorflow_cudnn_fails_a_newer_torch():
    # TensorFlow 2.12's nvidia-cudnn-cu11 8.6 loaded first is below torch 2.1.2+cu121's 8.9.2.26.
    (found,) = fired(machine(("2.1.2+cu121", "12.1"), ("2.12.0", "11.8"),
                             {"cu12": "8.9.2.26", "cu11": "8.6.0.163"}), "DLWS-LIB-002")
    assert found.subject == "torch" and found.evidence["import_order"] == "tensorflow before torch"


def test_one_shared_wheel_below_a_need_fails_in_any_order():
    # torch cu121 and TensorFlow 2.15 both load nvidia-cudnn-cu12's libcudnn.so.8: at 8.8.1.3 neither order helps.
    found = fired(machine(("2.1.2+cu121", "12.1"), ("2.15.0", "12.2"), {"cu12": "8.8.1.3"}), "DLWS-LIB-002")
    assert {f.subject for f in found} == {"torch", "tensorflow"}
    assert {f.evidence["import_order"] for f in found} == {"any"}


def test_needs_met_either_way_are_quiet():
    # torch cu121 (8.9.2.26) and TensorFlow 2.15 (8.9) share nvidia-cudnn-cu12 8.9.4.25: both accept 8.9.
    assert fired(machine(("2.1.2+cu121", "12.1"), ("2.15.0", "12.2"), {"cu12": "8.9.4.25"}), "DLWS-LIB-002") == []
    # What bmaltais/kohya_ss went back to: TensorFlow 2.14, built with cuDNN 8.7 like torch's cu118 build.
    assert fired(machine(("2.1.2+cu118", "11.8"), ("2.14.0", "11.8"), {"cu11": "8.7.0.84"}), "DLWS-LIB-002") == []


def test_unknown_needs_are_not_judged():
    # torch 2.1 has no cu117 build in the table: its cuDNN is unknown, so nothing is claimed.
    assert fired(machine(("2.1.2+cu117", "11.7"), ("2.15.0", "12.2"), {}), "DLWS-LIB-002") == []
    # A TensorFlow release the table lacks.
    assert fired(machine(("2.1.2+cu118", "11.8"), ("9.99.0", "12.2"), {}), "DLWS-LIB-002") == []


def test_different_majors():
    (found,) = fired(machine(("2.4.1+cu121", "12.1"), ("2.16.1", "12.3"), {"cu12": "9.1.0.70"}), "DLWS-LIB-002")
    assert found.evidence["cudnn_major_by_framework"] == {"tensorflow": 8, "torch": 9}
