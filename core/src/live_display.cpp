// --log-format live (the default of `run` on a terminal): a block at the bottom of the screen,
// one row per running multinode or node with slices done/running/failed, partitions done,
// elapsed time and an ETA, redrawn in place; above it, one permanent line per finished unit
// and every warning, error, node log line and plugin output. Engine chatter (info lines) is
// left to --log-format plain.
#include "fd_write.hpp"
#include "sinks.hpp"
#include "steppar/events.hpp"
#include "steppar/log.hpp"
#include "steppar/text.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <sys/ioctl.h>
#include <vector>

namespace steppar {
namespace {

using clock_type = std::chrono::steady_clock;

std::string duration_text(double seconds) {
    char text[32];
    if (seconds < 59.95) {  // "0.4s", "12.3s"; then "1:05", "1:02:03"
        std::snprintf(text, sizeof text, "%.1fs", seconds);
        return text;
    }
    const long s = static_cast<long>(seconds + 0.5);
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    return text;
}

struct Row {
    std::string name, kind;
    std::size_t slices = 1;
    std::size_t done = 0, up_to_date = 0, failed = 0, running = 0;
    long long partitions_total = -1;
    std::size_t partitions_finished = 0;        // by ended steps
    std::map<std::string, std::size_t> active;  // running step -> partitions it reported
    bool started = false, finished = false;
    clock_type::time_point since;

    std::size_t ended() const { return done + up_to_date + failed; }
    std::size_t partitions_done() const {
        std::size_t n = partitions_finished;
        for (const auto& [_, p] : active) n += p;
        return n;
    }
};

class LiveDisplay final : public EventSink {
public:
    explicit LiveDisplay(int fd) : fd_(fd), color_(!std::getenv("NO_COLOR")), started_(clock_type::now()) {}

    ~LiveDisplay() override { flush_above(); }

    void message(const Message& m) override {
        if (m.level == LogLevel::info && m.origin == Origin::steppar) return;
        std::string prefix;
        if (!m.step.empty()) prefix.append(visible_text(m.step)).append(m.origin == Origin::output ? " | " : ": ");
        if (m.origin == Origin::node && m.node != m.step) {  // a plain node's step is the node
            prefix.append(visible_text(m.node));
            if (!m.partition.empty()) prefix.append(" [").append(visible_text(m.partition)).append("]");
            prefix.append(": ");
        }
        if (m.level == LogLevel::warning) prefix.append(paint("33", "warning: "));
        if (m.level == LogLevel::error) prefix.append(paint("31", "error: "));
        std::string_view text = m.text;
        do {
            const auto end = text.find('\n');
            std::string_view line = text.substr(0, end);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            permanent(prefix + visible_text(line));  // a node's bytes never drive the terminal
            text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        } while (!text.empty());
    }

    void run_started(const RunStart& r) override {
        rows_.clear();
        for (const auto& u : r.units) {
            Row row;
            row.name = u.name;
            row.kind = u.kind;
            row.slices = u.slices;
            rows_.push_back(std::move(row));
        }
        started_ = clock_type::now();
        running_ = true;
        permanent("steppar: " + std::string(r.pipeline) + ", " + std::to_string(r.units.size()) + " unit(s), " +
                  std::string(r.runner) + " runner, " + std::to_string(r.workers) + " worker(s)");
    }

    void unit_planned(std::string_view unit, std::size_t partitions) override {
        if (Row* row = find(unit)) row->partitions_total = static_cast<long long>(partitions);
    }

    void step_started(const StepInfo& s, long long partitions) override {
        Row* row = find(s.unit);
        if (!row || s.kind == StepKind::slicer || s.kind == StepKind::barrier) return;
        begin(*row);
        ++row->running;
        row->active[std::string(s.name)] = 0;
        if (s.kind == StepKind::node && partitions >= 0) row->partitions_total = partitions;
        redraw(false);
    }

    void step_progress(const StepInfo& s, std::size_t done, std::size_t total) override {
        Row* row = find(s.unit);
        if (!row) return;
        const auto it = row->active.find(std::string(s.name));
        if (it != row->active.end()) it->second = done;
        if (s.kind == StepKind::node) row->partitions_total = static_cast<long long>(total);
        redraw(false);
    }

    void step_ended(const StepInfo& s, const StepEnd& e) override {
        Row* row = find(s.unit);
        if (!row || s.kind == StepKind::slicer) return;
        if (s.kind == StepKind::barrier) return;  // its failure is the slices' (and the run's last line)
        begin(*row);
        if (row->active.erase(std::string(s.name))) --row->running;
        switch (e.status) {
        case StepStatus::done: ++row->done; break;
        case StepStatus::up_to_date: ++row->up_to_date; break;
        case StepStatus::failed: ++row->failed; break;
        case StepStatus::stopped:
        case StepStatus::retrying: break;
        }
        if (e.partitions > 0 && e.status == StepStatus::done) row->partitions_finished += static_cast<std::size_t>(e.partitions);
        if (e.status == StepStatus::failed) permanent(paint("31", failure_text(s, e)));
        if (e.status == StepStatus::retrying) permanent(std::string(s.name) + " failed, retrying: " + std::string(e.message));
        if (!row->finished && row->ended() == row->slices) {
            row->finished = true;
            permanent(finished_line(*row));
        }
        redraw(false);
    }

    void run_ended(const RunEnd& r) override {
        flush_above();
        const std::string took = duration_text(r.seconds);
        std::string line = r.status == std::string_view("done") ? paint("32", "pipeline done") : paint("31", "pipeline " + std::string(r.status));
        line += " in " + took + ": " + std::to_string(r.ran) + " step(s) ran, " + std::to_string(r.up_to_date) + " up to date";
        if (r.failed) line += ", " + std::to_string(r.failed) + " failed";
        if (r.not_run) line += ", " + std::to_string(r.not_run) + " not run";
        write_all(fd_, line + "\n");
        finished_ = true;
    }

    void error(std::string_view text, int) override {
        flush_above();
        write_all(fd_, "steppar-host: " + paint("31", "error:") + " " + visible_text(text) + "\n");
    }

    bool animated() const override { return true; }
    void tick() override { redraw(false); }

private:
    // "count-slice-2 failed on ...", without naming the step twice.
    static std::string failure_text(const StepInfo& s, const StepEnd& e) {
        const std::string message(e.message);
        return message.rfind(std::string(s.name), 0) == 0 ? message : std::string(s.name) + ": " + message;
    }

    Row* find(std::string_view unit) {
        for (auto& row : rows_)
            if (row.name == unit) return &row;
        return nullptr;
    }

    void begin(Row& row) {
        if (row.started) return;
        row.started = true;
        row.since = clock_type::now();
    }

    std::string paint(const char* sgr, const std::string& text) const {
        return color_ ? "\x1b[" + std::string(sgr) + "m" + text + "\x1b[0m" : text;
    }

    std::string finished_line(const Row& row) const {
        const double seconds = std::chrono::duration<double>(clock_type::now() - row.since).count();
        std::string what;
        if (row.kind != "node") what = std::to_string(row.slices) + " slices";
        const std::size_t partitions = row.partitions_done();
        if (partitions) what += (what.empty() ? "" : ", ") + count_text(partitions) + " partitions";
        if (row.up_to_date) what += (what.empty() ? "" : ", ") + std::to_string(row.up_to_date) + " up to date";
        if (row.up_to_date == row.slices)
            return paint("32", "up to date ") + row.name + (row.kind != "node" ? " (" + std::to_string(row.slices) + " slices)" : "");
        if (row.failed) return paint("31", "failed ") + row.name + ": " + std::to_string(row.failed) + " of " + std::to_string(row.slices) + " failed";
        return paint("32", "done ") + row.name + (what.empty() ? "" : " (" + what + ")") + " in " + duration_text(seconds);
    }

    std::string row_line(const Row& row, clock_type::time_point now) const {
        const double elapsed = std::chrono::duration<double>(now - row.since).count();
        std::string line = "  " + row.name + "  ";
        const std::size_t partitions = row.partitions_done();
        double fraction = row.slices ? static_cast<double>(row.ended()) / row.slices : 0;
        if (row.partitions_total > 0) fraction = std::min(1.0, static_cast<double>(partitions) / row.partitions_total);
        const int width = 20, filled = static_cast<int>(fraction * width);
        line += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
        if (row.kind != "node") {
            line += std::to_string(row.ended()) + "/" + std::to_string(row.slices) + " slices, " + std::to_string(row.running) + " running";
            if (row.failed) line += ", " + paint("31", std::to_string(row.failed) + " failed");
            line += "  ";
        }
        if (row.partitions_total >= 0) line += count_text(partitions) + "/" + count_text(static_cast<std::size_t>(row.partitions_total)) + " partitions  ";
        line += duration_text(elapsed);
        if (fraction > 0 && fraction < 1 && elapsed > 1) line += "  ETA " + duration_text(elapsed * (1 - fraction) / fraction);
        return line;
    }

    int columns() const {
        winsize size{};
        if (::ioctl(fd_, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
        return 80;
    }

    // Cuts a line to the terminal's width so it never wraps (a wrapped line would break the
    // cursor arithmetic), not counting colour sequences.
    static std::string fit(const std::string& line, int width) {
        std::string out;
        int visible = 0;
        for (std::size_t i = 0; i < line.size(); ++i) {
            if (line[i] == '\x1b') {
                const auto end = line.find('m', i);
                if (end == std::string::npos) break;
                out.append(line, i, end - i + 1);
                i = end;
                continue;
            }
            if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80) {  // count UTF-8 characters once
                if (visible + 1 >= width) break;
                ++visible;
            }
            out += line[i];
        }
        return out;
    }

    std::string erase_sequence() const {
        return drawn_ ? "\r\x1b[" + std::to_string(drawn_) + "A\x1b[J" : std::string();
    }

    // The block goes, lines waiting to be printed above it are printed: the end of a run.
    void flush_above() {
        write_all(fd_, erase_sequence() + std::exchange(pending_, {}));
        drawn_ = 0;
    }

    // Printed with the next frame (at most 100 ms later), so a plugin printing a line per
    // partition costs one redraw per frame, not one per line.
    void permanent(const std::string& line) {
        pending_ += fit(line, columns()) + "\n";
        redraw(false);
    }

    void redraw(bool force) {
        if (!running_ || finished_) {  // no block outside a run
            write_all(fd_, std::exchange(pending_, {}));
            return;
        }
        const auto now = clock_type::now();
        if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
        last_draw_ = now;
        const int width = columns();
        std::string frame = erase_sequence() + std::exchange(pending_, {});
        int lines = 0;
        std::size_t active = 0, finished = 0;
        for (const auto& row : rows_) {
            finished += row.finished;
            if (!row.started || row.finished) continue;
            if (++active > 8) continue;  // the rest is counted in the summary line
            frame += fit(row_line(row, now), width) + "\n";
            ++lines;
        }
        std::string summary = "steppar: " + std::to_string(finished) + "/" + std::to_string(rows_.size()) + " done";
        if (active > 8) summary += ", " + std::to_string(active - 8) + " more running";
        summary += "  " + duration_text(std::chrono::duration<double>(now - started_).count());
        frame += fit(summary, width) + "\n";
        ++lines;
        drawn_ = lines;
        write_all(fd_, frame);
    }

    int fd_;
    bool color_;
    bool running_ = false, finished_ = false;
    clock_type::time_point started_, last_draw_{};
    std::vector<Row> rows_;
    int drawn_ = 0;  // lines of the block now on screen, below the permanent lines
    std::string pending_;
};

}  // namespace

std::unique_ptr<EventSink> make_live_display(int fd) { return std::make_unique<LiveDisplay>(fd); }

}  // namespace steppar
