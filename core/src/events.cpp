#include "steppar/events.hpp"

#include "sinks.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <utility>
#include <unistd.h>

namespace steppar {

namespace {

std::unique_ptr<EventSink>& current() {
    static std::unique_ptr<EventSink> sink = make_plain_sink(STDERR_FILENO);
    return sink;
}

bool progress_wanted = false;  // cached: report_progress runs once per partition

std::string timestamp(bool utc) {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm parts{};
    if (utc)
        ::gmtime_r(&seconds, &parts);
    else
        ::localtime_r(&seconds, &parts);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &parts);
    std::string out(text, n);
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(millis));
    out += fraction;
    if (utc) out += 'Z';
    return out;
}

}  // namespace

LogFormat parse_log_format(std::string_view text, int fd, bool animate) {
    if (text == "plain") return LogFormat::plain;
    if (text == "json") return LogFormat::json;
    if (text == "live") return LogFormat::live;
    if (text == "auto") {
        const char* term = std::getenv("TERM");
        const bool terminal = ::isatty(fd) && !(term && std::string_view(term) == "dumb");
        return animate && terminal ? LogFormat::live : LogFormat::plain;
    }
    throw UsageError("--log-format must be auto, plain, json or live, got '" + std::string(text) + "'");
}


EventSink& events() { return *current(); }

std::unique_ptr<EventSink> set_events(std::unique_ptr<EventSink> sink) {
    auto previous = std::exchange(current(), std::move(sink));
    progress_wanted = current()->wants_progress();
    return previous;
}

std::unique_ptr<EventSink> make_event_sink(LogFormat format, int fd) {
    switch (format) {
    case LogFormat::json: return make_json_sink(fd);
    case LogFormat::live: return make_live_display(fd);
    case LogFormat::plain: break;
    }
    return make_plain_sink(fd);
}

void report_progress(std::size_t done, std::size_t total) {
    if (!progress_wanted) return;
    using clock = std::chrono::steady_clock;
    static clock::time_point last{};
    const auto now = clock::now();
    if (done != total && now - last < std::chrono::milliseconds(100)) return;
    last = now;
    events().step_progress({}, done, total);
}

const char* level_name(LogLevel level) {
    switch (level) {
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    }
    return "?";
}

const char* origin_name(Origin origin) {
    switch (origin) {
    case Origin::steppar: return "steppar";
    case Origin::node: return "node";
    case Origin::output: return "output";
    }
    return "?";
}

const char* status_name(StepStatus status) {
    switch (status) {
    case StepStatus::done: return "done";
    case StepStatus::failed: return "failed";
    case StepStatus::up_to_date: return "up_to_date";
    case StepStatus::stopped: return "stopped";
    case StepStatus::retrying: return "retrying";
    }
    return "?";
}

std::string local_timestamp() { return timestamp(false); }
std::string utc_timestamp() { return timestamp(true); }

int report_channel(int pipe_fd) {
    const int channel = ::fcntl(pipe_fd, F_DUPFD_CLOEXEC, 3);
    if (channel < 0) return STDERR_FILENO;  // out of descriptors: the old way still works
    const int copy = ::fcntl(pipe_fd, F_DUPFD_CLOEXEC, 3);
    if (copy >= 0) keep_standard_streams(copy);
    return channel;
}

std::string counters_text(const std::map<std::string, long long>& metrics, std::size_t skipped) {
    std::string text;
    for (const auto& [name, value] : metrics) text += (text.empty() ? "" : ", ") + name + "=" + std::to_string(value);
    if (skipped) text += (text.empty() ? "" : "; ") + std::to_string(skipped) + " output partition(s) skipped";
    return text;
}

std::string error_reported_in(std::string_view line) {
    if (auto plain = plain_error(line)) return *plain;
    if (auto json = json_error(line)) return *json;
    return {};
}

}  // namespace steppar
