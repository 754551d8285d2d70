#include "steppar/run_trace.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/log.hpp"
#include "steppar/spec.hpp"
#include "steppar/step_trace.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// Rows leave the host's memory in pieces of this size.
constexpr std::size_t piece = 1 << 20;

TraceStatus status_of(StepStatus status) {
    switch (status) {
    case StepStatus::done: return TraceStatus::ok;
    case StepStatus::failed:
    case StepStatus::retrying: return TraceStatus::failed;  // this attempt failed; the next one has its own row
    case StepStatus::up_to_date: return TraceStatus::up_to_date;
    case StepStatus::stopped: return TraceStatus::skipped;  // stopped by the run (fail-fast, a signal), not failed itself
    }
    return TraceStatus::failed;
}

bool has_process(StepKind kind) { return kind == StepKind::slice || kind == StepKind::node; }

// The whole of a small file, or nothing.
std::string read_small_file(const fs::path& path) {
    std::string text;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return text;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

// A step's own row, as its process wrote it; nothing when it wrote none (it crashed, or was
// killed) or it cannot be read: then the host's row stands alone.
std::optional<TraceRow> own_step_row(const fs::path& path) {
    std::string text = read_small_file(path);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (text.empty() || text.find('\n') != std::string::npos) return std::nullopt;
    try {
        return parse_trace_row(text);
    } catch (const StateError&) {
        return std::nullopt;
    }
}

void set_variable(const char* name, const std::string& value, std::string& previous, bool& had) {
    const char* old = std::getenv(name);
    had = old != nullptr;
    if (old) previous = old;
    ::setenv(name, value.c_str(), 1);
}

void restore_variable(const char* name, const std::string& previous, bool had) {
    if (had)
        ::setenv(name, previous.c_str(), 1);
    else
        ::unsetenv(name);
}

}  // namespace

fs::path traces_dir(const StateLayout& state) { return state.root() / "traces"; }

std::unique_ptr<RunTrace> RunTrace::start(const StateLayout& state, const fs::path& file) {
    const int keep = kept_traces();
    if (keep == 0 && file.empty()) return nullptr;
    std::error_code ec;
    if (!file.empty()) {
        const fs::path folder = fs::absolute(file).parent_path();
        if (!fs::is_directory(folder, ec)) throw UsageError("--trace " + file.string() + ": there is no folder '" + folder.string() + "'");
    }
    const std::string run = make_run_id();
    const fs::path traces = fs::absolute(traces_dir(state));
    // Parts of runs that never finished (a host killed with SIGKILL): the caller holds the run
    // lock, so nobody will gather them.
    fs::remove_all(traces / "parts", ec);
    const fs::path parts = traces / "parts" / run;
    fs::create_directories(parts, ec);
    if (ec) throw StateError("cannot create the trace's folder '" + parts.string() + "': " + ec.message());
    if (keep == 0) return std::unique_ptr<RunTrace>(new RunTrace(run, parts, file, {}));
    return std::unique_ptr<RunTrace>(new RunTrace(run, parts, traces / (run + ".tsv"), file));
}

RunTrace::RunTrace(std::string run, fs::path parts, fs::path file, fs::path copy)
    : run_(std::move(run)), host_(host_name()), slurm_job_(slurm_job_of_this_process()), parts_(std::move(parts)),
      target_(std::move(file)), copy_(std::move(copy)), file_(std::make_unique<AtomicFile>(target_)) {
    pending_ = trace_header();
    // Every step process started from now on (forked, exec'd, a Slurm task) reads these.
    set_variable(trace_run_variable, run_, previous_run_, had_run_);
    set_variable(trace_dir_variable, parts_.string(), previous_dir_, had_dir_);
    set_trace_log(this);
}

RunTrace::~RunTrace() {
    if (trace_log() == this) set_trace_log(nullptr);
    restore_variable(trace_run_variable, previous_run_, had_run_);
    restore_variable(trace_dir_variable, previous_dir_, had_dir_);
    std::error_code ec;
    fs::remove_all(parts_, ec);
    // Unfinished files: their AtomicFiles remove their temporaries.
}

void RunTrace::emit(std::string_view text) {
    pending_ += text;
    if (pending_.size() >= piece) flush();
}

void RunTrace::flush() {
    file_->stream().write(pending_.data(), static_cast<std::streamsize>(pending_.size()));
    pending_.clear();
}

void RunTrace::fail(const std::string& why) {
    if (failure_.empty()) failure_ = why;
}

void RunTrace::copy_rows_of(const fs::path& rows_part) {
    const int in = ::open(rows_part.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return;
    // Whole rows only: a step killed with SIGKILL in the middle of a write may leave half of
    // one at its end, which is left out (its signal handlers write whole rows).
    struct stat st {};
    off_t size = ::fstat(in, &st) == 0 ? st.st_size : 0;
    char tail[4096];
    while (size > 0) {
        const off_t from = std::max<off_t>(0, size - static_cast<off_t>(sizeof tail));
        const ssize_t n = ::pread(in, tail, static_cast<std::size_t>(size - from), from);
        if (n <= 0) {
            size = 0;
            break;
        }
        const std::string_view got(tail, static_cast<std::size_t>(n));
        if (const auto newline = got.rfind('\n'); newline != std::string_view::npos) {
            size = from + static_cast<off_t>(newline) + 1;
            break;
        }
        size = from;
    }
    flush();  // what the host wrote before comes before these rows
    const int out = file_->descriptor();
    if (out < 0) {
        ::close(in);
        return;  // commit() will say why
    }
    off_t at = 0;
    while (at < size) {
        const ssize_t n = ::copy_file_range(in, &at, out, nullptr, static_cast<std::size_t>(size - at), 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
            // No copy in the kernel between these two files: through this process then.
            std::string chunk(std::min<std::size_t>(piece, static_cast<std::size_t>(size - at)), '\0');
            const ssize_t got = ::pread(in, chunk.data(), chunk.size(), at);
            if (got > 0) {
                file_->stream().write(chunk.data(), got);
                at += got;
                if (file_->descriptor() >= 0) continue;
            }
        }
        fail("copying '" + rows_part.string() + "': " + (n < 0 ? std::strerror(errno) : "it ended early"));
        break;
    }
    ::close(in);
    std::error_code ec;
    fs::remove(rows_part, ec);
}

void RunTrace::add(TraceRow row) {
    if (row.run.empty()) row.run = run_;
    if (row.host.empty()) row.host = host_;
    if (row.pid == 0) row.pid = static_cast<long>(::getpid());
    if (row.slurm_job.empty()) row.slurm_job = slurm_job_;
    if (row.scope == TraceScope::step) stepped_.insert(row.step);
    std::string text;
    append_trace_row(text, row);
    emit(text);
}

void RunTrace::unit_planned(std::string_view unit, std::size_t partitions) {
    planned_[std::string(unit)] = static_cast<long long>(partitions);
}

void RunTrace::step_started(const StepInfo& step) {
    started_[std::string(step.name)] = trace_clock();
    if (!has_process(step.kind)) host_usage_[std::string(step.name)] = usage_of_this_process();
}

void RunTrace::step_ended(const StepInfo& step, const StepEnd& end) {
    const std::int64_t now = trace_clock();
    TraceRow row;
    row.run = run_;
    row.step = std::string(step.name);
    row.kind = step.kind;
    row.unit = std::string(step.unit);
    row.slice = step.kind == StepKind::slice ? step.slice : -1;
    row.partitions = end.partitions;
    if (step.kind == StepKind::slicer)
        if (const auto planned = planned_.find(step.unit); planned != planned_.end()) row.partitions = planned->second;
    row.status = status_of(end.status);
    row.attempt = end.attempt;
    row.exit = exit_text(end.wait_status);
    const auto started = started_.find(step.name);
    row.start_us = started != started_.end() && end.status != StepStatus::up_to_date ? started->second
                                                                                      : now - std::llround(end.seconds * 1e6);
    row.end_us = now;
    row.host = host_;
    row.pid = static_cast<long>(::getpid());
    row.slurm_job = slurm_job_;
    if (end.metrics) row.counters = counters_json(*end.metrics);
    row.message = std::string(end.message);
    if (const auto before = host_usage_.find(step.name); before != host_usage_.end()) {
        row.usage = usage_between(before->second, usage_of_this_process());  // the host did this step
        host_usage_.erase(before);
    }
    if (has_process(step.kind) && end.status != StepStatus::up_to_date) {
        // The process of this attempt: its partition rows first, then one step row with the
        // host's verdict and the costs the process measured of itself.
        copy_rows_of(trace_rows_part(parts_, step.name, end.attempt));
        const fs::path own_path = trace_step_part(parts_, step.name, end.attempt);
        if (const auto own = own_step_row(own_path)) {
            row.usage = own->usage;
            row.host = own->host;
            row.pid = own->pid;
            row.slurm_job = own->slurm_job;
            if (row.counters.empty()) row.counters = own->counters;  // a failed attempt's, from its marker
            if (row.partitions < 0) row.partitions = own->partitions;
            if (row.exit.empty()) row.exit = own->exit;
            if (row.message.empty()) row.message = own->message;
        } else {
            row.pid = end.pid;  // its process wrote nothing (crashed, killed): only its pid is known
        }
        std::error_code ec;
        fs::remove(own_path, ec);
    }
    started_.erase(row.step);
    add(std::move(row));
}

std::set<std::string> RunTrace::gather_all_parts() {
    std::set<std::string> own;
    std::set<std::string> attempts;  // "<step>.<attempt>", in name order
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(parts_, ec)) {
        const std::string name = entry.path().filename().string();
        for (const std::string_view suffix : {".rows.tsv", ".step.tsv"})
            if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                attempts.insert(name.substr(0, name.size() - suffix.size()));
    }
    for (const auto& attempt : attempts) {
        copy_rows_of(parts_ / (attempt + ".rows.tsv"));
        const fs::path step_path = parts_ / (attempt + ".step.tsv");
        if (auto row = own_step_row(step_path)) {
            own.insert(row->step);
            add(std::move(*row));
        }
        fs::remove(step_path, ec);
    }
    return own;
}

void RunTrace::step_row(const StepInfo& step, TraceStatus status, std::string_view message) {
    TraceRow row;
    row.step = std::string(step.name);
    row.kind = step.kind;
    row.unit = std::string(step.unit);
    row.slice = step.kind == StepKind::slice ? step.slice : -1;
    row.status = status;
    row.start_us = row.end_us = trace_clock();
    row.message = std::string(message);
    add(std::move(row));
}

namespace {

// FILE as a copy of the finished trace, made in the kernel.
void copy_whole_file(const fs::path& from, const fs::path& to) {
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throw_file_error("open", from.string(), errno);
    AtomicFile copy(to);
    struct stat st {};
    const off_t size = ::fstat(in, &st) == 0 ? st.st_size : 0;
    off_t at = 0;
    while (at < size) {
        const int out = copy.descriptor();
        ssize_t n = out < 0 ? -1 : ::copy_file_range(in, &at, out, nullptr, static_cast<std::size_t>(size - at), 0);
        if (n < 0 && out >= 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
            std::string chunk(std::min<std::size_t>(piece, static_cast<std::size_t>(size - at)), '\0');
            n = ::pread(in, chunk.data(), chunk.size(), at);
            if (n > 0) {
                copy.stream().write(chunk.data(), n);
                at += n;
            }
        }
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // commit() says why, or the copy is short
    }
    ::close(in);
    if (at != size) throw StateError("copying '" + from.string() + "' to '" + to.string() + "' ended early");
    copy.commit();
}

}  // namespace

void RunTrace::finish() {
    if (finished_) return;
    finished_ = true;
    flush();
    try {
        if (!failure_.empty()) throw StateError(failure_);
        file_->commit();
        if (!copy_.empty()) copy_whole_file(target_, copy_);
    } catch (const Error& e) {
        warn("the trace of run " + run_ + " could not be written: " + std::string(e.what()));
    }
    file_.reset();
    std::error_code ec;
    fs::remove_all(parts_, ec);
    fs::remove(parts_.parent_path(), ec);  // when empty: no other run's parts are there
    const int keep = kept_traces();
    if (keep <= 0) return;
    // The newest `keep` traces stay: run ids begin with their UTC time, so names sort by age.
    std::vector<fs::path> traces;
    for (const auto& entry : fs::directory_iterator(parts_.parent_path().parent_path(), ec)) {
        const std::string name = entry.path().filename().string();
        if (name.front() != '.' && name.size() > 4 && name.compare(name.size() - 4, 4, ".tsv") == 0 && entry.is_regular_file(ec))
            traces.push_back(entry.path());
    }
    std::sort(traces.begin(), traces.end());
    for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < traces.size(); ++i) fs::remove(traces[i], ec);
}

// The scheduler's events, passed on unchanged to the sink they went to, and noted by the trace.
class TraceTap::Sink final : public EventSink {
public:
    Sink(RunTrace& trace, std::unique_ptr<EventSink> sink) : inner(std::move(sink)), trace_(trace) {}
    std::unique_ptr<EventSink> inner;

    void message(const Message& m) override { inner->message(m); }
    void run_started(const RunStart& r) override { inner->run_started(r); }
    void unit_planned(std::string_view unit, std::size_t partitions) override {
        trace_.unit_planned(unit, partitions);
        inner->unit_planned(unit, partitions);
    }
    void step_started(const StepInfo& s, long long partitions) override {
        noting([&] { trace_.step_started(s); });
        inner->step_started(s, partitions);
    }
    void step_progress(const StepInfo& s, std::size_t done, std::size_t total) override { inner->step_progress(s, done, total); }
    void step_ended(const StepInfo& s, const StepEnd& e) override {
        noting([&] { trace_.step_ended(s, e); });
        inner->step_ended(s, e);
    }
    void run_ended(const RunEnd& r) override { inner->run_ended(r); }
    void error(std::string_view text, int exit_code) override { inner->error(text, exit_code); }
    bool animated() const override { return inner->animated(); }
    void tick() override { inner->tick(); }
    bool wants_progress() const override { return inner->wants_progress(); }

private:
    // The trace never stops a run: a row it cannot make is left out (its files' write errors
    // come out once, at the end).
    template <class F>
    void noting(F&& note) noexcept {
        try {
            note();
        } catch (const std::exception&) {
        }
    }
    RunTrace& trace_;
};

namespace {

// Holds the place of the sink while the tap is made around it.
class NoSink final : public EventSink {
public:
    void message(const Message&) override {}
    void error(std::string_view, int) override {}
};

}  // namespace

TraceTap::TraceTap(RunTrace* trace) {
    if (!trace) return;
    auto sink = std::make_unique<Sink>(*trace, set_events(std::make_unique<NoSink>()));
    sink_ = sink.get();
    set_events(std::move(sink));
}

TraceTap::~TraceTap() {
    if (sink_) set_events(std::move(sink_->inner));  // the tap itself goes with the value returned
}

}  // namespace steppar
