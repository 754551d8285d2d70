// The cores this process may really use, for the default --max-workers and `slices: auto`.
// std::thread::hardware_concurrency() counts the machine's CPUs, but a process under Slurm
// (--cpus-per-task), taskset, Docker or Kubernetes may run on fewer: steppar would start more
// workers than it has cores, and they would only take turns. The count is the smallest of
//   - the CPUs in the process's affinity mask (sched_getaffinity: taskset, Slurm's cpusets),
//   - each cgroup v2 cpu.max quota on the way from the process's cgroup up to the root of the
//     cgroup2 mount (every ancestor's limit applies): ceil(quota / period) cores,
//   - the machine's CPU count,
// and at least 1. A limit that cannot be read (no cgroup2 mount, no cpu.max file, a text that is
// not "QUOTA PERIOD" or "max PERIOD") is no limit. cgroup v1 quotas are not read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

/// What limits the cores of a process, as read from the system (0: not known).
struct CoreLimits {
    unsigned hardware = 0;              ///< the machine's CPUs (hardware_concurrency)
    unsigned affinity = 0;              ///< CPUs in the affinity mask
    std::vector<std::string> cpu_max;   ///< cpu.max texts of the process's cgroup and its ancestors
};

/// The cores one cgroup v2 cpu.max text allows: ceil(QUOTA / PERIOD), at least 1, for
/// "QUOTA PERIOD"; nothing for "max PERIOD" (no limit) or a text of another form.
std::optional<unsigned> cores_of_cpu_max(std::string_view text);

/// The smallest of the known limits, at least 1 (pure: no system call).
unsigned usable_cores(const CoreLimits& limits);

/// The cpu.max texts that apply to the cgroup a /proc/self/cgroup text names (its "0::PATH" line),
/// innermost first, read under the cgroup2 mount a /proc/self/mountinfo text lists. Files
/// that are missing are skipped; no cgroup2 line or mount gives none.
std::vector<std::string> cgroup_cpu_max_texts(std::string_view proc_self_cgroup, std::string_view mountinfo);

/// This process's limits, read now.
CoreLimits read_core_limits();

/// usable_cores(read_core_limits()), read once per process: every step of a run sees one number.
unsigned usable_cores();

}  // namespace steppar
