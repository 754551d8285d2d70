// Private to the event sinks: the JSON shapes the json sink writes and the child reporter frames
// (child_output.hpp), so a message has the same fields on both.
#pragma once

#include "steppar/events.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace steppar::event_json {

// Keys in the order written: time and event first, as a reader scans them.
using json = nlohmann::ordered_json;

inline json step_fields(const StepInfo& s) {
    json j = {{"step", s.name}, {"unit", s.unit}, {"kind", to_string(s.kind)}};
    if (s.slice >= 0) j["slice"] = s.slice;
    return j;
}

inline void add_message_fields(json& j, const Message& m) {
    j["level"] = level_name(m.level);
    j["source"] = origin_name(m.origin);
    if (!m.node.empty()) j["node"] = m.node;
    if (!m.partition.empty()) j["partition"] = m.partition;
    j["message"] = m.text;
}

// dump() with replacement: a plugin's invalid UTF-8 must not throw out of a log call.
inline std::string text_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace steppar::event_json
