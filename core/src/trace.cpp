#include "steppar/trace.hpp"

#include "steppar/error.hpp"
#include "steppar/interruption.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace steppar {
namespace {

constexpr std::array<std::string_view, 26> columns = {
    "run",        "step",    "kind",    "unit",        "slice",  "scope",      "partition",  "partitions", "status",
    "attempt",    "exit",    "start",   "end",         "wall",   "cpu_user",   "cpu_sys",    "max_rss_kib", "rchar",
    "wchar",      "read_bytes", "write_bytes", "host", "pid",   "slurm_job",  "counters",   "message"};

std::int64_t microseconds(const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1000000 + t.tv_usec; }

// /proc/self/io: "rchar: 123\nwchar: ...\n"; -1 for what cannot be read (no task I/O
// accounting in the kernel, or no /proc).
void read_io(ResourceUsage& usage) {
    const int fd = ::open("/proc/self/io", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buffer[512];
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0) return;
    std::string_view text(buffer, static_cast<std::size_t>(n));
    while (!text.empty()) {
        const auto end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view key = line.substr(0, colon);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        std::int64_t number = -1;
        std::from_chars(value.data(), value.data() + value.size(), number);
        if (key == "rchar") usage.rchar = number;
        else if (key == "wchar") usage.wchar = number;
        else if (key == "read_bytes") usage.read_bytes = number;
        else if (key == "write_bytes") usage.write_bytes = number;
    }
}

std::int64_t difference(std::int64_t earlier, std::int64_t later) { return earlier < 0 || later < 0 ? -1 : later - earlier; }

void append_number(std::string& out, std::int64_t value) {
    char buffer[24];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
    out.append(buffer, end);
}

void append_optional(std::string& out, std::int64_t value) {
    if (value >= 0) append_number(out, value);
}

void append_optional_seconds(std::string& out, std::int64_t value) {
    if (value >= 0) append_trace_seconds(out, value);
}

[[noreturn]] void bad_row(const std::string& why, std::string_view line) {
    throw StateError("not a trace row (" + why + "): '" + std::string(line.substr(0, 200)) + "'");
}

std::int64_t parse_integer(std::string_view field, const char* column, std::string_view line, bool optional = true) {
    if (field.empty()) {
        if (optional) return -1;
        bad_row(std::string(column) + " is empty", line);
    }
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
    if (error != std::errc() || end != field.data() + field.size()) bad_row(std::string(column) + " is not a whole number", line);
    return value;
}

// "S.UUUUUU" (six decimals, an optional leading '-') in microseconds.
std::int64_t parse_seconds(std::string_view field, const char* column, std::string_view line, bool optional = true) {
    if (field.empty()) {
        if (optional) return -1;
        bad_row(std::string(column) + " is empty", line);
    }
    const bool negative = field.front() == '-';
    if (negative) field.remove_prefix(1);
    const auto dot = field.find('.');
    if (dot == std::string_view::npos || field.size() - dot != 7) bad_row(std::string(column) + " is not seconds with 6 decimals", line);
    std::int64_t whole = 0, fraction = 0;
    const auto a = std::from_chars(field.data(), field.data() + dot, whole);
    const auto b = std::from_chars(field.data() + dot + 1, field.data() + field.size(), fraction);
    if (dot == 0 || a.ec != std::errc() || a.ptr != field.data() + dot || b.ec != std::errc() || b.ptr != field.data() + field.size())
        bad_row(std::string(column) + " is not seconds with 6 decimals", line);
    const std::int64_t value = whole * 1000000 + fraction;
    return negative ? -value : value;
}

}  // namespace

const char* to_string(TraceStatus status) {
    switch (status) {
    case TraceStatus::ok: return "ok";
    case TraceStatus::failed: return "failed";
    case TraceStatus::skipped: return "skipped";
    case TraceStatus::up_to_date: return "up-to-date";
    case TraceStatus::retracted: return "retracted";
    }
    return "?";
}

const char* to_string(TraceScope scope) {
    switch (scope) {
    case TraceScope::step: return "step";
    case TraceScope::partition: return "partition";
    case TraceScope::partitions: return "partitions";
    }
    return "?";
}

ResourceUsage usage_of_this_process() {
    ResourceUsage usage;
    rusage self{}, children{};
    if (::getrusage(RUSAGE_SELF, &self) == 0 && ::getrusage(RUSAGE_CHILDREN, &children) == 0) {
        usage.cpu_user_us = microseconds(self.ru_utime) + microseconds(children.ru_utime);
        usage.cpu_sys_us = microseconds(self.ru_stime) + microseconds(children.ru_stime);
        usage.max_rss_kib = std::max(self.ru_maxrss, children.ru_maxrss);
    }
    read_io(usage);
    return usage;
}

ResourceUsage usage_between(const ResourceUsage& earlier, const ResourceUsage& later) {
    ResourceUsage delta;
    delta.cpu_user_us = difference(earlier.cpu_user_us, later.cpu_user_us);
    delta.cpu_sys_us = difference(earlier.cpu_sys_us, later.cpu_sys_us);
    delta.max_rss_kib = later.max_rss_kib;
    delta.rchar = difference(earlier.rchar, later.rchar);
    delta.wchar = difference(earlier.wchar, later.wchar);
    delta.read_bytes = difference(earlier.read_bytes, later.read_bytes);
    delta.write_bytes = difference(earlier.write_bytes, later.write_bytes);
    return delta;
}

std::string_view trace_header() {
    static const std::string header = [] {
        std::string text;
        for (const auto column : columns) text.append(column).push_back('\t');
        text.back() = '\n';
        return text;
    }();
    return header;
}

void append_trace_seconds(std::string& out, std::int64_t us) {
    if (us < 0) {
        out.push_back('-');
        us = -us;
    }
    append_number(out, us / 1000000);
    char fraction[7];
    std::int64_t rest = us % 1000000;
    for (int i = 6; i >= 1; --i, rest /= 10) fraction[i] = static_cast<char>('0' + rest % 10);
    fraction[0] = '.';
    out.append(fraction, 7);
}

void append_trace_row(std::string& out, const TraceRow& r) {
    auto tab = [&] { out.push_back('\t'); };
    append_tsv_escaped(out, r.run);
    tab();
    append_tsv_escaped(out, r.step);
    tab();
    out += to_string(r.kind);
    tab();
    append_tsv_escaped(out, r.unit);
    tab();
    append_optional(out, r.slice);
    tab();
    out += to_string(r.scope);
    tab();
    append_tsv_escaped(out, r.partition);
    tab();
    append_optional(out, r.partitions);
    tab();
    out += to_string(r.status);
    tab();
    append_number(out, r.attempt);
    tab();
    append_tsv_escaped(out, r.exit);
    tab();
    append_trace_seconds(out, r.start_us);
    tab();
    append_trace_seconds(out, r.end_us);
    tab();
    append_trace_seconds(out, r.end_us - r.start_us);
    tab();
    append_optional_seconds(out, r.usage.cpu_user_us);
    tab();
    append_optional_seconds(out, r.usage.cpu_sys_us);
    tab();
    append_optional(out, r.usage.max_rss_kib);
    tab();
    append_optional(out, r.usage.rchar);
    tab();
    append_optional(out, r.usage.wchar);
    tab();
    append_optional(out, r.usage.read_bytes);
    tab();
    append_optional(out, r.usage.write_bytes);
    tab();
    append_tsv_escaped(out, r.host);
    tab();
    if (r.pid > 0) append_number(out, r.pid);
    tab();
    append_tsv_escaped(out, r.slurm_job);
    tab();
    append_tsv_escaped(out, r.counters);
    tab();
    append_tsv_escaped(out, r.message);
    out.push_back('\n');
}

TraceRow parse_trace_row(std::string_view line) {
    std::array<std::string_view, columns.size()> f;
    std::size_t count = 0;
    for (std::string_view rest = line;; ++count) {
        const auto tab = rest.find('\t');
        if (count < f.size()) f[count] = rest.substr(0, tab);
        if (tab == std::string_view::npos) break;
        rest.remove_prefix(tab + 1);
    }
    if (++count != f.size()) bad_row(std::to_string(count) + " fields instead of " + std::to_string(f.size()), line);
    TraceRow r;
    r.run = tsv_unescaped(f[0]);
    r.step = tsv_unescaped(f[1]);
    bool kind_known = false;
    for (const StepKind kind : {StepKind::slicer, StepKind::slice, StepKind::barrier, StepKind::node})
        if (f[2] == to_string(kind)) {
            r.kind = kind;
            kind_known = true;
        }
    if (!kind_known) bad_row("unknown kind '" + std::string(f[2]) + "'", line);
    r.unit = tsv_unescaped(f[3]);
    r.slice = static_cast<int>(parse_integer(f[4], "slice", line));
    bool scope_known = false;
    for (const TraceScope scope : {TraceScope::step, TraceScope::partition, TraceScope::partitions})
        if (f[5] == to_string(scope)) {
            r.scope = scope;
            scope_known = true;
        }
    if (!scope_known) bad_row("unknown scope '" + std::string(f[5]) + "'", line);
    r.partition = tsv_unescaped(f[6]);
    r.partitions = parse_integer(f[7], "partitions", line);
    bool status_known = false;
    for (const TraceStatus status : {TraceStatus::ok, TraceStatus::failed, TraceStatus::skipped, TraceStatus::up_to_date, TraceStatus::retracted})
        if (f[8] == to_string(status)) {
            r.status = status;
            status_known = true;
        }
    if (!status_known) bad_row("unknown status '" + std::string(f[8]) + "'", line);
    r.attempt = static_cast<int>(parse_integer(f[9], "attempt", line, false));
    r.exit = tsv_unescaped(f[10]);
    r.start_us = parse_seconds(f[11], "start", line, false);
    r.end_us = parse_seconds(f[12], "end", line, false);
    if (parse_seconds(f[13], "wall", line, false) != r.end_us - r.start_us) bad_row("wall is not end - start", line);
    r.usage.cpu_user_us = parse_seconds(f[14], "cpu_user", line);
    r.usage.cpu_sys_us = parse_seconds(f[15], "cpu_sys", line);
    r.usage.max_rss_kib = parse_integer(f[16], "max_rss_kib", line);
    r.usage.rchar = parse_integer(f[17], "rchar", line);
    r.usage.wchar = parse_integer(f[18], "wchar", line);
    r.usage.read_bytes = parse_integer(f[19], "read_bytes", line);
    r.usage.write_bytes = parse_integer(f[20], "write_bytes", line);
    r.host = tsv_unescaped(f[21]);
    const std::int64_t pid = parse_integer(f[22], "pid", line);
    r.pid = pid > 0 ? static_cast<long>(pid) : 0;
    r.slurm_job = tsv_unescaped(f[23]);
    r.counters = tsv_unescaped(f[24]);
    r.message = tsv_unescaped(f[25]);
    return r;
}

std::int64_t trace_clock() noexcept {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<std::int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
}

std::string exit_text(int wait_status) {
    if (wait_status < 0) return {};
    if (WIFEXITED(wait_status)) return std::to_string(WEXITSTATUS(wait_status));
    if (WIFSIGNALED(wait_status)) return signal_name(WTERMSIG(wait_status));
    return {};
}

std::string counters_json(const std::map<std::string, long long>& counters) {
    if (counters.empty()) return {};
    std::string out = "{";
    for (const auto& [name, value] : counters) {
        if (out.size() > 1) out.push_back(',');
        append_json_string(out, name);
        out.push_back(':');
        append_number(out, value);
    }
    out.push_back('}');
    return out;
}

std::string make_run_id() {
    const std::int64_t now = trace_clock();
    const std::time_t seconds = static_cast<std::time_t>(now / 1000000);
    std::tm parts{};
    ::gmtime_r(&seconds, &parts);
    char text[64];
    const std::size_t n = std::strftime(text, sizeof text, "%Y%m%dT%H%M%S", &parts);
    char rest[48];
    std::snprintf(rest, sizeof rest, ".%06lldZ-%ld", static_cast<long long>(now % 1000000), static_cast<long>(::getpid()));
    return std::string(text, n) + rest;
}

std::string slurm_job_of_this_process() {
    const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
    const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
    if (array_job && *array_job && task && *task) return std::string(array_job) + "_" + task;
    const char* job = std::getenv("SLURM_JOB_ID");
    return job ? job : "";
}

std::string host_name() {
    char buffer[256] = {};
    ::gethostname(buffer, sizeof buffer - 1);
    return buffer;
}

namespace {
TraceLog* current_log = nullptr;
}  // namespace

TraceLog* trace_log() noexcept { return current_log; }

TraceLog* set_trace_log(TraceLog* log) noexcept { return std::exchange(current_log, log); }

}  // namespace steppar
