import subprocess

from testworld import host_b


def run_wrapper(tmp_path, *args):
    fake = tmp_path / "fake-proxy"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    wrapper = tmp_path / "docker-proxy"
    wrapper.write_text(host_b.proxy_wrapper(str(fake)))
    wrapper.chmod(0o755)
    out = subprocess.run([wrapper, *args], capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:-1]


def test_published_ports_move_to_host_bs_address(tmp_path):
    args = ["-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", "18600",
            "-container-ip", "10.213.0.3", "-container-port", "8080"]
    out = run_wrapper(tmp_path, *args)
    assert out == [a if a != "127.0.0.1" else "127.0.0.2" for a in args]


def test_any_address_too_and_nothing_else_changes(tmp_path):
    out = run_wrapper(tmp_path, "-host-ip", "0.0.0.0", "-container-ip", "127.0.0.1", "a b")
    assert out == ["-host-ip", "127.0.0.2", "-container-ip", "127.0.0.1", "a b"]


def test_engine_b_stays_off_engine_a():
    assert host_b.ADDRESS_POOL.startswith("10.213.") and host_b.BRIDGE != "docker0"
    assert "--bridge" in host_b.__doc__ and "never\n    `--bridge none`" in host_b.__doc__
