// Private to the core: the event sinks behind make_event_sink() (events.hpp), each defined in
// its own file.
#pragma once

#include "steppar/events.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace steppar {

/// Timestamped lines (plain_sink.cpp).
std::unique_ptr<EventSink> make_plain_sink(int fd);
/// One JSON object per event and line (json_sink.cpp).
std::unique_ptr<EventSink> make_json_sink(int fd);
/// The message of a plain sink's error line, read back (nothing for any other line).
std::optional<std::string> plain_error(std::string_view line);
/// The message of a json sink's "error" event, read back (nothing for any other line).
std::optional<std::string> json_error(std::string_view line);
/// A progress display redrawn in place (live_display.cpp).
std::unique_ptr<EventSink> make_live_display(int fd);

}  // namespace steppar
