#include "steppar/step_trace.hpp"

#include "steppar/text.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

// The buffer lives outside the object so that a signal handler can reach it without a pointer
// that might be half-updated: rows [0, committed) are whole, what follows is being written.
constexpr std::size_t capacity = 64 * 1024;
char buffer[capacity];
std::atomic<std::size_t> committed{0};
std::atomic<int> rows_fd{-1};
std::atomic<bool> writing{false};  // flush() in progress: the handler must not write the rows twice
StepTrace* current = nullptr;

// A trace never fails a step: what cannot be written is lost.
void write_whole(int fd, const char* data, std::size_t size) noexcept {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

char* put(char* p, std::string_view text) noexcept {
    std::memcpy(p, text.data(), text.size());
    return p + text.size();
}

char* put_escaped(char* p, std::string_view text) noexcept {
    for (const char c : text) {
        switch (c) {
        case '\\': *p++ = '\\'; *p++ = '\\'; break;
        case '\t': *p++ = '\\'; *p++ = 't'; break;
        case '\n': *p++ = '\\'; *p++ = 'n'; break;
        case '\r': *p++ = '\\'; *p++ = 'r'; break;
        default: *p++ = c;
        }
    }
    return p;
}

// As append_trace_seconds(), into the buffer (at most 28 bytes).
char* put_seconds(char* p, std::int64_t us) noexcept {
    if (us < 0) {
        *p++ = '-';
        us = -us;
    }
    p = std::to_chars(p, p + 20, us / 1000000).ptr;
    *p++ = '.';
    std::int64_t rest = us % 1000000;
    for (int i = 6; i >= 1; --i, rest /= 10) p[i - 1] = static_cast<char>('0' + rest % 10);
    return p + 6;
}

constexpr std::size_t longest_seconds = 28;

}  // namespace

fs::path trace_rows_part(const fs::path& dir, std::string_view step, int attempt) {
    return dir / (std::string(step) + "." + std::to_string(attempt) + ".rows.tsv");
}

fs::path trace_step_part(const fs::path& dir, std::string_view step, int attempt) {
    return dir / (std::string(step) + "." + std::to_string(attempt) + ".step.tsv");
}

int attempt_from_environment() {
    const char* restarts = std::getenv("SLURM_RESTART_COUNT");
    if (!restarts || !*restarts) return 1;
    int n = 0;
    const auto [end, error] = std::from_chars(restarts, restarts + std::strlen(restarts), n);
    return error == std::errc() && *end == '\0' && n >= 0 && n < 1000000 ? n + 1 : 1;
}

std::unique_ptr<StepTrace> StepTrace::begin(TracedStep identity) {
    const char* run = std::getenv(trace_run_variable);
    const char* dir = std::getenv(trace_dir_variable);
    if (current || !run || !*run || !dir || !*dir) return nullptr;
    const int fd = ::open(trace_rows_part(dir, identity.step, identity.attempt).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return nullptr;  // the run's folder is gone: nobody would read the rows
    // A plugin that ends the process with exit() skips every destructor: its rows still go out.
    static const bool at_exit = std::atexit([] { flush_step_trace_on_signal(); }) == 0;
    (void)at_exit;
    return std::unique_ptr<StepTrace>(new StepTrace(std::move(identity), run, dir, fd));
}

StepTrace::StepTrace(TracedStep identity, std::string run, fs::path dir, int fd)
    : identity_(std::move(identity)), run_(std::move(run)), dir_(std::move(dir)), host_(host_name()),
      slurm_job_(slurm_job_of_this_process()), started_us_(trace_clock()) {
    // A partition row is these constant pieces around its name, times and message (the
    // columns of trace.hpp), so writing one copies a few strings and formats three numbers.
    append_tsv_escaped(prefix_, run_);
    prefix_ += '\t';
    append_tsv_escaped(prefix_, identity_.step);
    prefix_ += std::string("\t") + to_string(identity_.kind) + "\t";
    append_tsv_escaped(prefix_, identity_.unit);
    prefix_ += '\t';
    if (identity_.slice >= 0) prefix_ += std::to_string(identity_.slice);
    prefix_ += "\tpartition\t";
    for (const TraceStatus status : {TraceStatus::ok, TraceStatus::failed, TraceStatus::skipped, TraceStatus::up_to_date, TraceStatus::retracted})
        middle_[static_cast<int>(status)] = std::string("\t1\t") + to_string(status) + "\t" + std::to_string(identity_.attempt) + "\t\t";
    suffix_ = "\t\t\t\t\t\t\t\t";  // wall's end, then cpu_user .. write_bytes empty
    append_tsv_escaped(suffix_, host_);
    suffix_ += "\t" + std::to_string(::getpid()) + "\t";
    append_tsv_escaped(suffix_, slurm_job_);
    suffix_ += "\t\t";  // counters empty, then the message
    committed = 0;
    rows_fd = fd;
    current = this;
    set_trace_log(this);
}

StepTrace::~StepTrace() {
    flush();
    ::close(rows_fd.exchange(-1));
    current = nullptr;
    if (trace_log() == this) set_trace_log(nullptr);
}

void StepTrace::flush() noexcept {
    const std::size_t n = committed.load(std::memory_order_acquire);
    if (n == 0) return;
    writing.store(true);
    write_whole(rows_fd.load(), buffer, n);
    committed.store(0, std::memory_order_release);
    writing.store(false);
}

void StepTrace::write_row_text(std::string_view text) noexcept {
    std::size_t used = committed.load(std::memory_order_relaxed);
    if (used + text.size() > capacity) {
        flush();
        used = 0;
    }
    if (text.size() > capacity) {
        write_whole(rows_fd.load(), text.data(), text.size());
        return;
    }
    std::memcpy(buffer + used, text.data(), text.size());
    committed.store(used + text.size(), std::memory_order_release);
}

void StepTrace::partition(std::string_view name, TraceStatus status, std::int64_t start_us, std::int64_t end_us,
                          std::string_view message) {
    const std::string& middle = middle_[static_cast<int>(status)];
    const std::size_t most = prefix_.size() + 2 * name.size() + middle.size() + 3 * longest_seconds + 2 + suffix_.size() +
                             2 * message.size() + 1;
    if (most > capacity) {  // a message longer than the buffer (a name cannot be): the slow way
        TraceRow row;
        row.step = identity_.step;
        row.kind = identity_.kind;
        row.unit = identity_.unit;
        row.slice = identity_.slice;
        row.scope = TraceScope::partition;
        row.partition = std::string(name);
        row.partitions = 1;
        row.status = status;
        row.start_us = start_us;
        row.end_us = end_us;
        row.message = std::string(message);
        add(std::move(row));
        return;
    }
    std::size_t used = committed.load(std::memory_order_relaxed);
    if (used + most > capacity) {
        flush();
        used = 0;
    }
    char* p = buffer + used;
    p = put(p, prefix_);
    p = put_escaped(p, name);
    p = put(p, middle);
    p = put_seconds(p, start_us);
    *p++ = '\t';
    p = put_seconds(p, end_us);
    *p++ = '\t';
    p = put_seconds(p, end_us - start_us);
    p = put(p, suffix_);
    p = put_escaped(p, message);
    *p++ = '\n';
    committed.store(static_cast<std::size_t>(p - buffer), std::memory_order_release);
}

void StepTrace::add(TraceRow row) {
    if (row.run.empty()) row.run = run_;
    if (row.host.empty()) row.host = host_;
    if (row.pid == 0) row.pid = static_cast<long>(::getpid());
    if (row.slurm_job.empty()) row.slurm_job = slurm_job_;
    if (row.step == identity_.step) row.attempt = identity_.attempt;
    std::string text;
    append_trace_row(text, row);
    write_row_text(text);
}

void StepTrace::set_counters(const std::map<std::string, long long>& counters) { counters_ = counters_json(counters); }

void StepTrace::end(int exit_code, std::string_view message) {
    if (ended_) return;
    ended_ = true;
    flush();
    TraceRow row;
    row.run = run_;
    row.step = identity_.step;
    row.kind = identity_.kind;
    row.unit = identity_.unit;
    row.slice = identity_.slice;
    row.partitions = partitions_;
    row.status = exit_code != 0 ? TraceStatus::failed : up_to_date_ ? TraceStatus::up_to_date : TraceStatus::ok;
    row.attempt = identity_.attempt;
    row.exit = std::to_string(exit_code);
    row.start_us = started_us_;
    row.end_us = trace_clock();
    row.usage = usage_of_this_process();
    row.host = host_;
    row.pid = static_cast<long>(::getpid());
    row.slurm_job = slurm_job_;
    row.counters = counters_;
    row.message = std::string(message);
    std::string text;
    append_trace_row(text, row);
    const int fd = ::open(trace_step_part(dir_, identity_.step, identity_.attempt).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return;
    write_whole(fd, text.data(), text.size());
    ::close(fd);
}

StepTrace* step_trace() noexcept { return current; }

void flush_step_trace_on_signal() noexcept {
    const int fd = rows_fd.load();
    if (fd < 0 || writing.load()) return;  // none, or the rows are being written right now
    write_whole(fd, buffer, committed.exchange(0));
}

}  // namespace steppar
