"""How busy the machine is apart from the benchmark: CPU taken by other processes (from
/proc/stat, minus this driver's own and its children's CPU), and waiting for a quiet machine."""
import os
import time
from dataclasses import dataclass
from pathlib import Path

BUSY_SHARE = 0.05   # others above this share of the CPUs: the timings are disturbed
QUIET_SHARE = 0.10  # waiting for quiet: others below this share over a short sample
SAMPLE_SECONDS = 0.5
TICK_SLACK = 3 / os.sysconf("SC_CLK_TCK")  # /proc/stat and os.times() count in clock ticks


@dataclass(frozen=True)
class Snapshot:
    """Busy CPU seconds of the whole machine and of this driver (with its waited-for children),
    and the wall clock, at one moment."""
    busy: float
    own: float
    wall: float

    @staticmethod
    def take():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
        user, nice, system, _idle, _iowait, irq, softirq = fields
        own = os.times()
        return Snapshot((user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK"),
                        own.user + own.system + own.children_user + own.children_system, time.perf_counter())

    def others_since(self, before):
        """(CPU seconds of other processes, their share of all CPUs) between `before` and this."""
        others = max(0.0, (self.busy - before.busy) - (self.own - before.own))
        return others, others / (max(self.wall - before.wall, 1e-9) * os.cpu_count())

    def disturbed_since(self, before):
        """Whether other processes took more than BUSY_SHARE of the CPUs since `before`, beyond
        what clock-tick rounding explains (short runs)."""
        others, _ = self.others_since(before)
        return others > BUSY_SHARE * (self.wall - before.wall) * os.cpu_count() + TICK_SLACK


def wait_quiet(max_seconds, log):
    """Waits (at most `max_seconds`) until other processes take less than QUIET_SHARE of the
    CPUs over SAMPLE_SECONDS; returns the seconds waited."""
    started = time.perf_counter()
    warned = False
    while time.perf_counter() - started < max_seconds:
        before = Snapshot.take()
        time.sleep(SAMPLE_SECONDS)
        if Snapshot.take().others_since(before)[1] < QUIET_SHARE:
            break
        if not warned:
            log(f"machine busy (other processes): waiting up to {max_seconds:.0f} s for it to calm down")
            warned = True
    return time.perf_counter() - started
