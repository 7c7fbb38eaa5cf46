#!/usr/bin/python3
"""A hostile tenant's job: tries each escape and prints one line per attempt,
`<attempt> DENIED <errno>` or `<attempt> LEAKED`. Used by the isolation suite
(multiflexi-bin/tests/e2e/isolation.rs); `hold` is the victim's job."""
import errno
import os
import sys
import time


def report(name, attempt):
    try:
        attempt()
        print(f"{name} LEAKED", flush=True)
    except OSError as e:
        print(f"{name} DENIED {e.errno}", flush=True)


def read(path):
    def go():
        with open(path, "rb") as f:
            f.read(16)
    return go


def opens(path):
    def go():
        os.close(os.open(path, os.O_RDONLY))
    return go


def parent_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise RuntimeError(f"no PPid for {pid}")


def main():
    mode = sys.argv[1]
    if mode == "hold":
        with open("secret.txt", "w") as f:
            f.write("the victim's data\n")
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
        return
    if mode == "alloc":
        block = bytearray(int(sys.argv[2]) << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        print("allocated", flush=True)
        return
    if mode == "result":
        os.mkdir("out", 0o700)
        fd = os.open("out/report.txt", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, f"result of uid {os.getuid()}\n".encode())
        os.close(fd)
        print("written", flush=True)
        return
    # mode == "escape": the targets come in the environment.
    print(f"uid {os.getuid()}", flush=True)
    supervisor = os.getppid()
    daemon = parent_of(supervisor)
    report("supervisor_environ", read(f"/proc/{supervisor}/environ"))
    report("daemon_environ", read(f"/proc/{daemon}/environ"))
    report("daemon_memory", opens(f"/proc/{daemon}/mem"))
    report("key_file", read(os.environ["PROBE_KEY_FILE"]))
    report("admin_token", read(os.environ["PROBE_TOKEN_FILE"]))
    report("database", read(os.environ["PROBE_DATABASE"]))
    report("other_work_dir", read(os.environ["PROBE_VICTIM_FILE"]))
    report("list_work_root", lambda: os.listdir(os.environ["PROBE_WORK_ROOT"]))

    def write_outside():
        with open(os.environ["PROBE_OUTSIDE"], "w") as f:
            f.write("escaped\n")
    report("write_outside", write_outside)
    report("signal_daemon", lambda: os.kill(daemon, 0))

    def fork_past_pids():
        kids = []
        try:
            for _ in range(64):
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                kids.append(pid)
        finally:
            for k in kids:
                os.kill(k, 9)
                os.waitpid(k, 0)
    report("fork_past_pids", fork_past_pids)

    def keep_capabilities():
        with open("/proc/self/status") as f:
            for line in f:
                name, _, bits = line.partition(":")
                if name in ("CapInh", "CapPrm", "CapEff", "CapAmb") and int(bits, 16):
                    return
        raise OSError(errno.EPERM, "no capability held")
    report("keep_capabilities", keep_capabilities)
    # Last: where it leaks, this process is root from here on.
    report("become_root", lambda: os.setuid(0))


main()
