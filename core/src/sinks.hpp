// Private to the core: the event sinks behind make_event_sink() (events.hpp), each defined in
// its own file.
#pragma once

#include "steppar/events.hpp"

#include <memory>

namespace steppar {

/// Timestamped lines (plain_sink.cpp).
std::unique_ptr<EventSink> make_plain_sink(int fd);
/// One JSON object per event and line (json_sink.cpp).
std::unique_ptr<EventSink> make_json_sink(int fd);
/// A progress display redrawn in place (live_display.cpp).
std::unique_ptr<EventSink> make_live_display(int fd);

}  // namespace steppar
