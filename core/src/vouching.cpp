#include "steppar/vouching.hpp"

#include "steppar/error.hpp"
#include "steppar/freshness.hpp"
#include "steppar/stamp.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace steppar {

const char* to_string(MarkerVerdict verdict) {
    switch (verdict) {
    case MarkerVerdict::missing: return "missing";
    case MarkerVerdict::damaged: return "damaged";
    case MarkerVerdict::foreign: return "foreign";
    case MarkerVerdict::failed: return "failed";
    case MarkerVerdict::vouches: return "vouches";
    }
    return "?";
}

MarkerVerdict judge_marker(const Marker& marker, const StepIdentity& step) {
    if (marker.unit != step.unit || marker.slice != step.slice || marker.plan_id != step.plan_id) return MarkerVerdict::foreign;
    return marker.success ? MarkerVerdict::vouches : MarkerVerdict::failed;
}

std::string MarkerReading::failure() const {
    if (verdict != MarkerVerdict::failed) return {};
    return (marker->failed_partition.empty() ? "" : " failed on partition '" + marker->failed_partition + "'") + ": " + marker->message;
}

MarkerReading read_step_marker(const StateLayout& state, const StepIdentity& step) {
    MarkerReading reading;
    try {
        reading.marker = read_marker(step.slice < 0 ? state.node_marker(step.unit) : state.marker(step.unit, step.slice));
    } catch (const StateError& e) {
        reading.verdict = MarkerVerdict::damaged;
        reading.damage = e.what();
        return reading;
    }
    reading.verdict = reading.marker ? judge_marker(*reading.marker, step) : MarkerVerdict::missing;
    return reading;
}

bool needs_run(const StateLayout& state, const Unit& unit, const SlicePart& part, bool force) {
    if (part.partitions.empty()) return false;
    if (force) return true;
    return !read_step_marker(state, {unit.name, part.slice, part.plan_id}).vouches();
}

bool needs_run(Project& project, const Unit& unit, bool force, std::string* why) {
    auto because = [&](const std::string& text) {
        if (why) *why = text;
        return true;
    };
    if (force) return because("forced (--force)");
    const MarkerReading reading = read_step_marker(project.state(), {unit.name, -1, ""});
    switch (reading.verdict) {
    case MarkerVerdict::missing: return because("it has not run yet");
    case MarkerVerdict::damaged: return because(reading.damage);
    case MarkerVerdict::foreign: return because("its marker belongs to another node");
    case MarkerVerdict::failed: return because("it failed last time");
    case MarkerVerdict::vouches: break;
    }
    const Marker& marker = *reading.marker;
    if (marker.fingerprint != whole_node_fingerprint(project, unit))
        return because("its inputs, params, plugin or definition changed since it ran");
    for (const auto& out : unit.nodes.front().outputs) {
        const Dataset& d = project.pipeline().catalog().at(out);
        if (!d.partitioned() && !stamp_of(d.path.string()).exists()) return because("its output '" + d.path.string() + "' is gone");
    }
    for (const auto& [path, stamp] : marker.written) {
        std::string now;
        append_stamp(now, stamp_of(path));
        if (now != stamp) return because("its output '" + path + "' is gone or was changed by someone else");
    }
    if (why) why->clear();
    return false;
}

void retire_node_marker(const StateLayout& state, std::string_view unit) {
    const auto marker = state.node_marker(unit);
    if (::rename(marker.c_str(), state.previous_node_marker(unit).c_str()) != 0 && errno != ENOENT)
        throw StateError("cannot set aside the marker '" + marker.string() + "': " + std::strerror(errno) + "; check the state folder's permissions");
}

}  // namespace steppar
