// bench-scale: how steppar's host behaves with a million partitions. Prints one JSON object.
//
//   slicing:  cut N partition names into K slices (by count and by size), write the plan, read
//             it back the way a slice does; with --files, the real slicer over N empty files
//   memory:   peak RSS of all that (the host must grow with the number of partitions, not
//             with their sizes)
//   spawning: after the host has grown by --host-mib, how long starting one process takes with
//             plain fork(), with posix_spawn(), and with steppar's fork server (started while
//             the host was small; this is what the local runners use)
//   barrier:  from the last marker's rename to check-barrier --wait's wake-up (inotify, and
//             the directory scan that shared filesystems need)
//
//   bench-scale --workdir DIR --plugin steppar_bench.so [--partitions N] [--slices K] [--files]
//               [--host-mib M] [--repeats R]
#include <steppar/atomic_file.hpp>
#include <steppar/barrier_wait.hpp>
#include <steppar/executor.hpp>
#include <steppar/expand.hpp>
#include <steppar/files.hpp>
#include <steppar/fork_server.hpp>
#include <steppar/plan.hpp>
#include <steppar/project.hpp>
#include <steppar/slicer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <thread>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double peak_rss_mib() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
}

std::string partition_name(std::size_t i) {
    char name[32];
    std::snprintf(name, sizeof name, "part-%07zu", i);
    return name;
}

void write_text(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

// Empty partition files, created once and reused by later runs.
void ensure_files(const fs::path& dir, std::size_t count) {
    fs::create_directories(dir);
    const fs::path done = dir.parent_path() / ("files-" + std::to_string(count) + ".done");
    if (fs::exists(done)) return;
    for (std::size_t i = 0; i < count; ++i) {
        const int fd = ::open((dir / (partition_name(i) + ".txt")).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) ::close(fd);
    }
    write_text(done, "");
}

std::string pipeline_text(const std::string& plugin, const std::string& input, int slices) {
    return "plugins: {bench: " + plugin + "}\ncatalog:\n  in: {type: partitioned, path: " + input +
           ", suffix: .txt}\n  out: {type: partitioned, path: out, suffix: .out}\nnodes:\n"
           "  - {name: n, func: bench.noop, inputs: [in], outputs: [out], slices: " + std::to_string(slices) + "}\n";
}

// Waits for the fork server to report the end of `step`.
int wait_for(steppar::ForkServer& server, std::size_t step) {
    for (;;) {
        for (const auto& exit : server.take_exits())
            if (exit.step == step) return exit.wait_status;
        pollfd fd{server.channel(), POLLIN, 0};
        ::poll(&fd, 1, -1);
    }
}

}  // namespace

int main(int argc, char** argv) try {
    std::size_t partitions = 1000000;
    int slices = 64;
    long host_mib = 2048;
    int repeats = 20;
    bool files = false;
    fs::path workdir = "/dev/shm/steppar-bench/scale";
    std::string plugin;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--partitions") partitions = std::stoull(value());
        else if (arg == "--slices") slices = std::stoi(value());
        else if (arg == "--host-mib") host_mib = std::stol(value());
        else if (arg == "--repeats") repeats = std::stoi(value());
        else if (arg == "--workdir") workdir = value();
        else if (arg == "--plugin") plugin = fs::absolute(value()).string();
        else if (arg == "--files") files = true;
        else throw std::invalid_argument("unknown argument " + arg);
    }
    if (plugin.empty()) throw std::invalid_argument("--plugin PATH (steppar_bench.so) is required");

    // The fork server first, while this process is small, as `steppar-host run` does.
    const fs::path spawn_dir = workdir / "spawn";
    fs::remove_all(spawn_dir);
    for (int i = 0; i < 64; ++i) write_text(spawn_dir / "in" / (partition_name(static_cast<std::size_t>(i)) + ".txt"), "");
    write_text(spawn_dir / "pipeline.yml", pipeline_text(plugin, "in", 64));
    auto spawn_project = steppar::Project::open(spawn_dir / "pipeline.yml", std::nullopt);
    const steppar::ExpandedGraph spawn_graph = steppar::expand(spawn_project->pipeline());
    steppar::run_slicer(*spawn_project, spawn_project->pipeline().units().front(), 64);
    auto server = steppar::ForkServer::start(*spawn_project, spawn_graph);
    const double rss_at_start = peak_rss_mib();

    std::printf("{\"partitions\": %zu, \"slices\": %d", partitions, slices);
    auto start = Clock::now();
    std::vector<std::string> names;
    names.reserve(partitions);
    for (std::size_t i = 0; i < partitions; ++i) names.push_back(partition_name(i));
    std::printf(", \"names_seconds\": %.4f", since(start));

    start = Clock::now();
    const steppar::SlicePlan plan = steppar::make_plan("n", {"in"}, names, slices);
    const steppar::StateLayout state(workdir / "plan");
    steppar::write_plan(state, plan);
    std::printf(", \"plan_seconds\": %.4f, \"plan_part_bytes\": %llu", since(start),
                static_cast<unsigned long long>(fs::file_size(state.plan_part("n", 0))));

    start = Clock::now();
    std::vector<std::uint64_t> sizes(partitions);
    for (std::size_t i = 0; i < partitions; ++i) sizes[i] = (i * 2654435761u) % 100000 + (i % 1000 == 0 ? 10000000 : 0);
    const auto groups = steppar::slice_by_size(sizes, slices);
    std::printf(", \"slice_by_size_seconds\": %.4f", since(start));

    start = Clock::now();
    const steppar::SlicePart read_back = steppar::read_slice_part(state, "n", slices - 1);  // what one slice reads
    std::printf(", \"read_slice_part_seconds\": %.4f", since(start));
    if (read_back.partitions != plan.slices.back()) throw std::runtime_error("the plan part read back differs from the plan written");

    if (files) {
        const fs::path dir = workdir / "files";
        start = Clock::now();
        ensure_files(dir / "in", partitions);
        std::printf(", \"create_files_seconds\": %.4f", since(start));
        write_text(dir / "pipeline.yml", pipeline_text(plugin, "in", slices));
        fs::remove_all(dir / ".steppar");
        auto project = steppar::Project::open(dir / "pipeline.yml", std::nullopt);
        start = Clock::now();
        const auto real = steppar::run_slicer(*project, project->pipeline().units().front(), slices);
        std::printf(", \"slicer_seconds\": %.4f, \"slicer_partitions\": %zu", since(start), real.partition_count());
    }
    std::printf(", \"rss_at_start_mib\": %.1f, \"peak_rss_mib\": %.1f", rss_at_start, peak_rss_mib());
    names.clear();
    names.shrink_to_fit();

    // Grow the host, touching every page, then start processes three ways.
    std::vector<char> ballast(static_cast<std::size_t>(host_mib) << 20);
    for (std::size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = 1;
    std::vector<double> fork_ms, spawn_ms, server_ms;
    for (int i = 0; i < repeats; ++i) {
        start = Clock::now();
        const pid_t pid = ::fork();
        if (pid == 0) ::_exit(0);
        ::waitpid(pid, nullptr, 0);
        fork_ms.push_back(since(start) * 1000);
        start = Clock::now();
        pid_t child = 0;
        char* const args[] = {const_cast<char*>("/bin/true"), nullptr};
        if (::posix_spawn(&child, "/bin/true", nullptr, nullptr, args, environ) == 0) ::waitpid(child, nullptr, 0);
        spawn_ms.push_back(since(start) * 1000);
    }
    for (std::size_t step = 0; step < spawn_graph.steps.size(); ++step) {
        if (spawn_graph.steps[step].kind != steppar::StepKind::slice) continue;
        start = Clock::now();
        server->launch(step);
        const int status = wait_for(*server, step);
        server_ms.push_back(since(start) * 1000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("a slice started by the fork server failed");
    }
    std::printf(", \"host_mib\": %ld, \"fork_exit_ms\": %.3f, \"posix_spawn_true_ms\": %.3f, "
                "\"fork_server_slice_ms\": %.3f, \"fork_server_slices\": %zu",
                host_mib, median(fork_ms), median(spawn_ms), median(server_ms), server_ms.size());

    // Barrier: from the last marker's rename to the waiter's return, with inotify and with the
    // scan alone (as on a shared filesystem), --repeats times each.
    const steppar::Unit& unit = spawn_project->pipeline().units().front();
    const fs::path last = spawn_project->state().marker(unit.name, 63);
    const std::string marker_text = steppar::read_file(last);
    for (const bool inotify : {true, false}) {
        std::vector<double> latency_ms;
        for (int i = 0; i < repeats; ++i) {
            fs::remove(last);
            Clock::time_point released;
            // The watch is made (and later closed) outside the timing: closing an inotify
            // instance waits for a kernel grace period that has nothing to do with the release.
            steppar::MarkerWatch watch(*spawn_project, unit, {10, 0.05, inotify});
            std::thread waiter([&] {
                watch.wait();
                released = Clock::now();
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(200 + 7 * i));  // past its first scan, any phase
            const auto written = Clock::now();
            steppar::write_file_atomically(last, marker_text);
            waiter.join();
            latency_ms.push_back(std::chrono::duration<double, std::milli>(released - written).count());
        }
        std::printf(inotify ? ", \"barrier_inotify_ms\": %.3f" : ", \"barrier_scan_50ms_ms\": %.3f", median(latency_ms));

    }
    std::printf("}\n");
    return 0;
} catch (const std::exception& e) {
    std::cerr << "bench-scale: " << e.what() << "\n";
    return 1;
}
