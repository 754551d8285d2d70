#include "steppar/usable_cores.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sched.h>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;

namespace steppar {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<std::string_view> fields(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t at = 0;
    while (at < text.size()) {
        while (at < text.size() && blank(text[at])) ++at;
        const std::size_t start = at;
        while (at < text.size() && !blank(text[at])) ++at;
        if (at > start) out.push_back(text.substr(start, at - start));
    }
    return out;
}

std::optional<std::uint64_t> unsigned_number(std::string_view text) {
    std::uint64_t n = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return n;
}

// mountinfo writes a space, tab, newline or backslash in a path as \040, \011, \012, \134.
std::string unescape_mount_path(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            const std::string_view digits = text.substr(i + 1, 3);
            if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
                out.push_back(static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0')));
                i += 3;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

std::vector<std::string_view> lines(std::string_view text) {
    std::vector<std::string_view> out;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        out.push_back(text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return out;
}

// "/a/b" -> {"a", "b"}; nothing when a component is "." or ".." (a cgroup outside our view).
std::optional<std::vector<std::string>> components(std::string_view path) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < path.size()) {
        const std::size_t end = std::min(path.find('/', at), path.size());
        const std::string_view part = path.substr(at, end - at);
        if (part == "." || part == "..") return std::nullopt;
        if (!part.empty()) out.emplace_back(part);
        at = end + 1;
    }
    return out;
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned affinity_count() {
    // A mask as large as the kernel's: glibc's fixed cpu_set_t holds 1,024 CPUs, and
    // sched_getaffinity refuses a smaller mask than the kernel's with EINVAL.
    for (int cpus = 1024; cpus <= (1 << 22); cpus *= 2) {
        const std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> set(CPU_ALLOC(cpus), [](cpu_set_t* s) { CPU_FREE(s); });
        if (!set) return 0;
        const std::size_t size = CPU_ALLOC_SIZE(cpus);
        CPU_ZERO_S(size, set.get());
        if (::sched_getaffinity(0, size, set.get()) == 0) return static_cast<unsigned>(CPU_COUNT_S(size, set.get()));
        if (errno != EINVAL) return 0;
    }
    return 0;
}

}  // namespace

std::optional<unsigned> cores_of_cpu_max(std::string_view text) {
    const auto parts = fields(text);
    if (parts.size() != 2 || parts[0] == "max") return std::nullopt;
    const auto quota = unsigned_number(parts[0]), period = unsigned_number(parts[1]);
    if (!quota || !period || *quota == 0 || *period == 0) return std::nullopt;
    const std::uint64_t cores = *quota / *period + (*quota % *period != 0 ? 1 : 0);
    return static_cast<unsigned>(std::clamp<std::uint64_t>(cores, 1, UINT_MAX));
}

unsigned usable_cores(const CoreLimits& limits) {
    unsigned cores = UINT_MAX;
    if (limits.hardware > 0) cores = std::min(cores, limits.hardware);
    if (limits.affinity > 0) cores = std::min(cores, limits.affinity);
    for (const auto& text : limits.cpu_max)
        if (const auto quota = cores_of_cpu_max(text)) cores = std::min(cores, *quota);
    return cores == UINT_MAX ? 1 : std::max(cores, 1u);
}

std::vector<std::string> cgroup_cpu_max_texts(std::string_view proc_self_cgroup, std::string_view mountinfo) {
    // cgroup v2 is the line "0::PATH" (v1 hierarchies have a number and controllers).
    std::optional<std::string_view> cgroup;
    for (const auto line : lines(proc_self_cgroup))
        if (line.substr(0, 3) == "0::") cgroup = line.substr(3);
    if (!cgroup) return {};
    // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...".
    for (const auto line : lines(mountinfo)) {
        const std::size_t dash = line.find(" - ");
        if (dash == std::string_view::npos) continue;
        const auto after = fields(line.substr(dash + 3));
        const auto before = fields(line.substr(0, dash));
        if (after.empty() || after[0] != "cgroup2" || before.size() < 5) continue;
        const std::string root = unescape_mount_path(before[3]);
        const fs::path mountpoint = unescape_mount_path(before[4]);
        // The mount shows the hierarchy from ROOT down: the process's cgroup must lie below it.
        std::string_view path = *cgroup;
        if (root != "/") {
            if (path.substr(0, root.size()) != root || (path.size() > root.size() && path[root.size()] != '/')) continue;
            path.remove_prefix(root.size());
        }
        const auto parts = components(path);
        if (!parts) continue;
        std::vector<std::string> texts;
        for (std::size_t depth = parts->size() + 1; depth-- > 0;) {
            fs::path dir = mountpoint;
            for (std::size_t i = 0; i < depth; ++i) dir /= (*parts)[i];
            std::error_code ec;
            if (fs::exists(dir / "cpu.max", ec)) texts.push_back(read_text(dir / "cpu.max"));
        }
        return texts;
    }
    return {};
}

CoreLimits read_core_limits() {
    CoreLimits limits;
    limits.hardware = std::thread::hardware_concurrency();
    limits.affinity = affinity_count();
    limits.cpu_max = cgroup_cpu_max_texts(read_text("/proc/self/cgroup"), read_text("/proc/self/mountinfo"));
    return limits;
}

unsigned usable_cores() {
    static const unsigned cores = usable_cores(read_core_limits());
    return cores;
}

}  // namespace steppar
