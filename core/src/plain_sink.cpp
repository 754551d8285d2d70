// --log-format plain: one timestamped line per event, no control characters; what cron mails
// and CI shows.
#include "fd_write.hpp"
#include "sinks.hpp"
#include "steppar/events.hpp"
#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <cstdio>
#include <string>

namespace steppar {
namespace {

// The CLI's last line, untimestamped so scripts can match it exactly.
constexpr std::string_view error_prefix = "steppar-host: error: ";

std::string seconds_text(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", seconds);
    return text;
}

// " (rows=12; 1 output partition(s) skipped)" after a step's "done" line, or nothing.
std::string counters_suffix(const StepEnd& e) {
    const std::string text = steppar::counters_text(e.metrics ? *e.metrics : std::map<std::string, long long>{}, e.skipped);
    return text.empty() ? text : " (" + text + ")";
}

std::string partitions_text(long long partitions) {
    return std::to_string(partitions) + (partitions == 1 ? " partition" : " partitions");
}

class PlainSink final : public EventSink {
public:
    explicit PlainSink(int fd) : fd_(fd) {}

    void message(const Message& m) override {
        std::string prefix = "steppar: ";
        // Engine messages from a step usually name it already ("count-slice-0: ...").
        const bool named = m.origin == Origin::steppar && m.text.substr(0, m.step.size()) == m.step &&
                           m.text.substr(m.step.size(), 1) == ":";
        if (!m.step.empty() && !named) prefix.append(visible_text(m.step)).append(m.origin == Origin::output ? " output: " : ": ");
        if (m.origin == Origin::node) {
            prefix.append("node '").append(visible_text(m.node)).append("'");
            if (!m.partition.empty()) prefix.append(", partition '").append(visible_text(m.partition)).append("'");
            prefix.append(": ");
        }
        if (m.level != LogLevel::info) prefix.append(level_name(m.level)).append(": ");
        // A multi-line text becomes several lines, each with the whole prefix (grep-able).
        std::string_view text = m.text;
        std::string out;
        const std::string time = local_timestamp();
        do {
            const auto end = text.find('\n');
            std::string_view line = text.substr(0, end);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            out.append(time).append(" ").append(prefix).append(visible_text(line)).append("\n");
            text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        } while (!text.empty());
        write_all(fd_, out);
    }

    void run_started(const RunStart& r) override {
        if (quiet()) return;
        line("run: " + std::string(r.pipeline) + ", " + std::to_string(r.steps) + " steps, " + std::string(r.runner) +
             " runner, " + std::to_string(r.workers) + (r.workers == 1 ? " worker" : " workers") +
             (r.run_id.empty() ? "" : ", run " + std::string(r.run_id)));
    }

    void step_started(const StepInfo& s, long long partitions) override {
        if (quiet() || s.kind == StepKind::slicer || s.kind == StepKind::barrier) return;  // those log their own lines
        line(std::string(s.name) + " started" + (partitions >= 0 ? " (" + partitions_text(partitions) + ")" : ""));
    }

    void step_ended(const StepInfo& s, const StepEnd& e) override {
        const std::string name(s.name);
        switch (e.status) {
        case StepStatus::done:
            if (quiet() || s.kind == StepKind::slicer || s.kind == StepKind::barrier) return;
            line(name + " done" + (e.partitions >= 0 ? ": " + partitions_text(e.partitions) + " in " : " in ") +
                 seconds_text(e.seconds) + " s" + counters_suffix(e));
            return;
        case StepStatus::up_to_date:
            if (!quiet()) line(name + ": " + (e.message.empty() ? std::string("up to date, skipped") : std::string(e.message)));
            return;
        case StepStatus::failed:  // messages mostly start with the step's name already
            line(e.message.substr(0, name.size()) == name ? std::string(e.message) : name + " failed: " + std::string(e.message));
            return;
        case StepStatus::retrying: line(name + " failed (" + std::string(e.message) + "); retrying, attempt " + std::to_string(e.attempt + 1) +
                                         " of " + std::to_string(e.max_attempts));
            return;
        case StepStatus::stopped: line(name + " stopped"); return;
        }
    }

    void run_ended(const RunEnd& r) override {
        if (r.status == std::string_view("done")) {
            if (!quiet())
                line("pipeline done: " + std::to_string(r.steps) + " steps (" + std::to_string(r.ran) + " ran, " +
                     std::to_string(r.up_to_date) + " up to date) in " + seconds_text(r.seconds) + " s");
            return;
        }
        line("pipeline " + std::string(r.status) + " after " + seconds_text(r.seconds) + " s: " + std::to_string(r.ran) +
             " step(s) ran, " + std::to_string(r.failed) + " failed, " + std::to_string(r.not_run) + " not run");
    }

    void error(std::string_view text, int) override {
        write_all(fd_, std::string(error_prefix).append(visible_text(text)) + "\n");
    }

private:
    // Engine lines name partitions and quote messages: shown, never obeyed (visible_text).
    void line(const std::string& text) { write_all(fd_, local_timestamp() + " steppar: " + visible_text(text) + "\n"); }
    int fd_;
};

}  // namespace

std::unique_ptr<EventSink> make_plain_sink(int fd) { return std::make_unique<PlainSink>(fd); }

std::optional<std::string> plain_error(std::string_view line) {
    if (line.substr(0, error_prefix.size()) != error_prefix) return std::nullopt;
    return std::string(line.substr(error_prefix.size()));
}

}  // namespace steppar
