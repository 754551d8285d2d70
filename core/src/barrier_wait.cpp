#include "steppar/barrier_wait.hpp"

#include "steppar/error.hpp"
#include "steppar/expand.hpp"
#include "steppar/vouching.hpp"
#include "steppar/plan.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// slice-<i>.json -> i, or -1.
int slice_of(std::string_view filename) {
    if (filename.rfind("slice-", 0) != 0 || filename.size() <= 11 || filename.substr(filename.size() - 5) != ".json") return -1;
    int slice = 0;
    for (const char c : filename.substr(6, filename.size() - 11)) {
        if (c < '0' || c > '9' || slice > 100000000) return -1;
        slice = slice * 10 + (c - '0');
    }
    return slice;
}

// The slices named by the inotify events waiting on `fd`.
std::vector<int> slices_in_events(int fd) {
    std::vector<int> out;
    alignas(inotify_event) char buffer[16384];
    ssize_t got;
    while ((got = ::read(fd, buffer, sizeof buffer)) > 0)
        for (char* at = buffer; at < buffer + got;) {
            const auto* event = reinterpret_cast<const inotify_event*>(at);
            if (event->len) out.push_back(slice_of(event->name));
            at += sizeof(inotify_event) + event->len;
        }
    return out;
}

}  // namespace

MarkerWatch::MarkerWatch(const Project& project, const Unit& unit, const BarrierWait& options)
    : project_(project), unit_(unit), options_(options) {
    const fs::path dir = project.state().markers_dir(unit.name);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!options.use_inotify) return;
    inotify_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    // Markers are renamed into place (IN_MOVED_TO); IN_CLOSE_WRITE covers writers that do not.
    if (inotify_ >= 0 && ::inotify_add_watch(inotify_, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        ::close(inotify_);
        inotify_ = -1;  // e.g. out of watches: the scan still works
    }
}

MarkerWatch::~MarkerWatch() {
    if (inotify_ >= 0) ::close(inotify_);
}

void MarkerWatch::wait() {
    const auto started = Clock::now();
    const PlanIndex plan = read_plan_index(project_.state(), unit_.name);
    const int slices = static_cast<int>(plan.slice_sizes.size());
    std::vector<bool> seen(static_cast<std::size_t>(slices), false);
    int missing = slices;
    for (int i = 0; i < slices; ++i)
        if (plan.slice_sizes[static_cast<std::size_t>(i)] == 0) {  // nothing to run: no marker to wait for
            seen[static_cast<std::size_t>(i)] = true;
            --missing;
        }
    auto check = [&](int slice) {
        if (slice < 0 || slice >= slices || seen[static_cast<std::size_t>(slice)]) return;
        // Ended well or not (a damaged marker cannot fix itself): check_barrier() says which.
        if (!read_step_marker(project_.state(), {unit_.name, slice, plan.plan_id}).ended()) return;
        seen[static_cast<std::size_t>(slice)] = true;
        --missing;
    };
    auto scan = [&] {
        for (int i = 0; i < slices; ++i) check(i);
    };
    scan();
    auto last_scan = Clock::now();
    const auto interval = seconds(std::max(0.001, options_.scan_interval_seconds));
    while (missing > 0) {
        const auto now = Clock::now();
        const double waited = std::chrono::duration<double>(now - started).count();
        if (options_.timeout_seconds > 0 && waited >= options_.timeout_seconds) {
            std::vector<std::string> names;
            for (int i = 0; i < slices && names.size() < 10; ++i)
                if (!seen[static_cast<std::size_t>(i)]) names.push_back(std::to_string(i));
            char shown[32];
            std::snprintf(shown, sizeof shown, "%.1f", waited);
            throw NodeError(barrier_name(unit_.name) + ": waited " + shown + " s; " + std::to_string(missing) + " of " +
                            std::to_string(slices) + " slice(s) left no marker (" + join(names) +
                            (missing > static_cast<int>(names.size()) ? ", ..." : "") + ")");
        }
        auto until = last_scan + interval;
        if (options_.timeout_seconds > 0) until = std::min(until, started + seconds(options_.timeout_seconds));
        const int ms = std::max(0, static_cast<int>(std::ceil(std::chrono::duration<double, std::milli>(until - now).count())));
        if (inotify_ >= 0) {
            pollfd fd{inotify_, POLLIN, 0};
            if (::poll(&fd, 1, ms) > 0) {
                for (const int slice : slices_in_events(inotify_)) check(slice);
                continue;
            }
        } else if (ms > 0) {
            ::usleep(static_cast<useconds_t>(ms) * 1000);
        }
        if (Clock::now() >= last_scan + interval) {  // the fallback for shared filesystems
            scan();
            last_scan = Clock::now();
        }
    }
}

}  // namespace steppar
