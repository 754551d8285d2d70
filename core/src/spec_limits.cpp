// The limits a run takes from its environment (STEPPAR_MAX_SLICES, STEPPAR_MAX_STEPS,
// STEPPAR_STALE_TEMPORARY_HOURS, STEPPAR_KEEP_TRACES, and the `auto` slice count from
// STEPPAR_NODES x STEPPAR_WORKERS or kedro-partitioned's MAX_NODES x MAX_WORKERS, workers
// defaulting to the cores this process may use, usable_cores.hpp), declared in spec.hpp beside
// the fixed ones.
#include "steppar/error.hpp"
#include "steppar/spec.hpp"
#include "steppar/usable_cores.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

namespace steppar {
namespace {

// Read once: every step of a run (forked or started afresh) sees the same limit.
struct EnvLimit {
    int value = 0;
    std::string error;  // the variable is set but is not a limit
};

EnvLimit env_limit(const char* variable, int fallback, int least = 1) {
    const char* text = std::getenv(variable);
    if (!text || !*text) return {fallback, {}};
    const std::string value = text;
    try {
        std::size_t used = 0;
        const long long n = std::stoll(value, &used);
        if (used == value.size() && n >= least && n <= INT_MAX) return {static_cast<int>(n), {}};
    } catch (const std::exception&) {
    }
    return {fallback, std::string(variable) + " must be a whole number from " + std::to_string(least) + " to " + std::to_string(INT_MAX) + ", got '" + value + "'"};
}

int checked(const EnvLimit& limit) {
    if (!limit.error.empty()) throw UsageError(limit.error);
    return limit.value;
}

}  // namespace

int max_slices() {
    static const EnvLimit limit = env_limit("STEPPAR_MAX_SLICES", limits::default_max_slices);
    return checked(limit);
}

int max_steps() {
    static const EnvLimit limit = env_limit("STEPPAR_MAX_STEPS", limits::default_max_steps);
    return checked(limit);
}

int stale_temporary_hours() {
    static const EnvLimit limit = env_limit("STEPPAR_STALE_TEMPORARY_HOURS", limits::default_stale_temporary_hours);
    return checked(limit);
}

int kept_traces() {
    static const EnvLimit limit = env_limit("STEPPAR_KEEP_TRACES", limits::default_kept_traces, 0);
    return checked(limit);
}

int auto_slices() {
    // steppar's own name first, then kedro-partitioned's, so a migrated cron line keeps its count.
    auto first_set = [](const char* ours, const char* peers, int fallback) {
        const char* text = std::getenv(ours);
        return env_limit(text && *text ? ours : peers, fallback);
    };
    static const EnvLimit nodes = first_set("STEPPAR_NODES", "MAX_NODES", 1);
    static const EnvLimit workers = first_set("STEPPAR_WORKERS", "MAX_WORKERS", static_cast<int>(std::min<unsigned>(usable_cores(), INT_MAX)));
    const long long slices = static_cast<long long>(checked(nodes)) * checked(workers);
    return static_cast<int>(std::min<long long>(slices, INT_MAX));
}

}  // namespace steppar
