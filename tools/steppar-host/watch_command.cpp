// `steppar-host watch PIPELINE`: keeps running, and runs the pipeline whenever the kernel says
// that its input folders changed (change_watch.hpp), after a quiet moment (--debounce).
//
// Every run it starts is an ordinary `steppar-host run` (the same ledger, runners and exact
// scan), started as a child process: what a run does cannot depend on how long the watcher has
// lived, and a run that crashes does not take the watcher with it. The watcher holds the watch
// lock of the state folder, so a cron `run` meanwhile is refused with exit code 75 instead of
// racing it; its own runs carry STEPPAR_WATCHER so the lock lets them through.
#include "commands.hpp"

#include "command_line.hpp"

#include <steppar/change_watch.hpp>
#include <steppar/error.hpp>
#include <steppar/interruption.hpp>
#include <steppar/log.hpp>
#include <steppar/run_lock.hpp>
#include <steppar/state_folder.hpp>
#include <steppar/signals.hpp>
#include <steppar/text.hpp>
#include <steppar/watched_scan.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <set>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace steppar::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds millis(double seconds) {
    return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

// The folders whose changes can give a run work: the datasets nodes read that no node makes
// (an output changes only when a run writes it), and for a file dataset its folder.
std::vector<fs::path> watched_folders(const Pipeline& pipeline) {
    std::set<fs::path> folders;
    for (const auto& unit : pipeline.units())
        for (const auto& node : unit.nodes)
            for (const auto& in : node.inputs) {
                if (Node::is_param(in) || !pipeline.producers(in).empty()) continue;
                const Dataset& d = pipeline.catalog().at(in);
                folders.insert(d.partitioned() ? d.path : d.path.parent_path());
            }
    return {folders.begin(), folders.end()};
}

// The folders the runs write (partitioned outputs in the catalog): their changes start no run,
// but a run's scan of them can come from the kernel's events (watched_scan.hpp).
std::vector<fs::path> written_folders(const Pipeline& pipeline) {
    std::set<fs::path> folders;
    for (const auto& [name, d] : pipeline.catalog().all())
        if (d.partitioned() && !d.intermediate && !pipeline.producers(name).empty()) folders.insert(d.path);
    return {folders.begin(), folders.end()};
}

// "3 changes (docs/a.txt, docs/b.txt, ...)".
std::string changes_text(const Changes& c) {
    std::string text = count_text(c.events) + (c.events == 1 ? " change" : " changes");
    if (!c.paths.empty()) text += " (" + join_first(c.paths, 3) + ")";
    if (c.lost) text += "; " + c.why_lost + ": the run looks at every file";
    return text;
}

class Watcher {
public:
    Watcher(std::vector<std::string> run_argv, int wake_fd, fs::path window_file)
        : run_argv_(std::move(run_argv)), wake_fd_(wake_fd), window_file_(std::move(window_file)),
          token_base_(std::to_string(::getpid()) + "." + std::to_string(std::chrono::system_clock::now().time_since_epoch().count())) {}

    /// Runs the pipeline once and waits for it (or for a stop, which it passes on). Returns
    /// false when a stop was asked. `changed`: every path changed since the run before started,
    /// when the list is complete (else a null pointer: the run walks every folder). What
    /// `source` sees meanwhile goes into `pending` (the kernel's queue must not overflow with
    /// the run's own writes).
    bool run(const std::string& why, const std::vector<std::string>* changed, ChangeSource& source, Changes& pending) {
        log("watch: run (" + why + ")");
        // The window this run looks through: its scans are kept under `token`, and those of the
        // run before (`since`) stand for walks with the changed paths looked at again.
        WatchWindow window;
        window.token = token_base_ + "." + std::to_string(++runs_);
        if (changed && !previous_token_.empty()) {
            window.since = previous_token_;
            window.paths = *changed;
        }
        write_watch_window(window_file_, window);
        previous_token_ = window.token;
        const std::string window_variable = std::string(watch_window_variable) + "=" + window_file_.string();
        std::vector<char*> argv;
        for (auto& a : run_argv_) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string token = std::string(watcher_variable) + "=" + std::to_string(::getpid());
        std::vector<char*> env;
        const auto named = [](const char* entry, const char* name) {
            return std::strncmp(entry, name, std::strlen(name)) == 0 && entry[std::strlen(name)] == '=';
        };
        for (char** e = environ; *e; ++e)
            if (!named(*e, watcher_variable) && !named(*e, watch_window_variable)) env.push_back(*e);
        env.push_back(const_cast<char*>(token.c_str()));
        env.push_back(const_cast<char*>(window_variable.c_str()));
        env.push_back(nullptr);
        // The run starts with default signal handling and an empty mask: it is an ordinary run.
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t defaults, empty;
        sigemptyset(&defaults);
        for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, s);
        sigemptyset(&empty);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setsigmask(&attr, &empty);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        pid_t child = -1;
        const int error = ::posix_spawn(&child, argv[0], nullptr, &attr, argv.data(), env.data());
        posix_spawnattr_destroy(&attr);
        if (error != 0) throw StateError("watch: cannot start '" + run_argv_.front() + "': " + std::strerror(error));
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
        bool stopping = false;
        for (;;) {
            // Until the run ends (its pidfd; without one, a look every 50 ms) or a stop.
            pending.merge(source.wait(std::chrono::milliseconds(pidfd >= 0 ? 3600 * 1000 : 50), WakeFds(wake_fd_, pidfd)));
            if (!stopping && interrupt_signal() != 0) {
                stopping = true;
                ::kill(child, interrupt_signal());  // the run stops its steps and keeps what finished
            }
            int status = 0;
            const pid_t done = ::waitpid(child, &status, WNOHANG);
            if (done == child) {
                if (pidfd >= 0) ::close(pidfd);
                const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                log("watch: run ended with exit code " + std::to_string(code) + (code == 0 ? "" : " (its log above says why)"));
                last_exit_ = code;
                return !stopping;
            }
            if (done < 0 && errno != EINTR) {
                if (pidfd >= 0) ::close(pidfd);
                throw StateError(std::string("watch: cannot wait for its run: ") + std::strerror(errno));
            }
            char drain[64];
            while (::read(wake_fd_, drain, sizeof drain) > 0) {
            }
        }
    }

    int last_exit() const { return last_exit_; }

private:
    std::vector<std::string> run_argv_;
    int wake_fd_;
    fs::path window_file_;
    std::string token_base_, previous_token_;
    long runs_ = 0;
    int last_exit_ = 0;
};

}  // namespace

int watch_command(int argc, char** argv) {
    po::options_description options("Options");
    options.add_options()("debounce", po::value<double>()->default_value(2),
                          "after a change, wait until the folders have been quiet this many seconds, then run (at most "
                          "10 times this long, or 10 s, while changes keep coming)")(
        "backend", po::value<std::string>()->default_value("auto"),
        "how changes are learnt: fanotify (one mark per filesystem; root), inotify (a watch per folder), poll "
        "(walk and compare every --poll-every seconds), or auto: the first of these that works here")(
        "poll-every", po::value<double>()->default_value(5), "poll backend: seconds between two walks")(
        "rescan-every", po::value<double>()->default_value(3600),
        "also run this often (seconds) when nothing was seen to change, to catch what no event tells (0: never)")(
        "runner", po::value<std::string>()->default_value("parallel"), "passed to each run (sequential, parallel, slurm)")(
        "max-workers,j", po::value<int>()->default_value(0), "passed to each run")(
        "launch", po::value<std::string>()->default_value("fork"), "passed to each run")(
        "retries", po::value<int>()->default_value(0), "passed to each run")(
        "slice-timeout", po::value<double>()->default_value(0), "passed to each run")(
        "fail-fast", po::bool_switch(), "passed to each run")(
        "partition", po::value<std::string>()->default_value(""), "passed to each run (slurm runner)")(
        "account", po::value<std::string>()->default_value(""), "passed to each run (slurm runner)")(
        "sbatch-arg", po::value<std::vector<std::string>>()->composing(), "passed to each run (slurm runner)");
    const auto parsed = parse("watch",
                              "Keeps running and runs the pipeline whenever its input folders change (files added, "
                              "changed, removed or moved), once they have been quiet for --debounce seconds. One "
                              "watcher per state folder; a 'run' by hand meanwhile exits with code 75.",
                              options, argc, argv);
    if (parsed.help) return 0;
    const double debounce = parsed.values["debounce"].as<double>();
    const double poll_every = parsed.values["poll-every"].as<double>();
    const double rescan_every = parsed.values["rescan-every"].as<double>();
    if (!(debounce >= 0 && debounce <= 3600)) throw UsageError("--debounce must be from 0 to 3600 seconds");
    if (!(poll_every >= 0.05 && poll_every <= 86400)) throw UsageError("--poll-every must be from 0.05 to 86400 seconds");
    if (!(rescan_every >= 0 && rescan_every <= 30 * 86400)) throw UsageError("--rescan-every must be from 0 (never) to 2592000 seconds");
    const WatchBackend backend = parse_watch_backend(parsed.values["backend"].as<std::string>());

    auto project = open_project(parsed);  // a bad pipeline file stops here, before any watching
    const std::string pipeline_file = parsed.values["pipeline"].as<std::string>();
    std::vector<std::string> run_argv = {host_program(), "run", pipeline_file};
    const auto pass = [&](const char* name) {
        if (!parsed.values[name].defaulted()) {
            run_argv.push_back(std::string("--") + name);
            const auto& v = parsed.values[name].value();
            if (const auto* s = boost::any_cast<std::string>(&v)) run_argv.push_back(*s);
            else if (const auto* i = boost::any_cast<int>(&v)) run_argv.push_back(std::to_string(*i));
            else if (const auto* d = boost::any_cast<double>(&v)) run_argv.push_back(std::to_string(*d));
            else if (const auto* b = boost::any_cast<bool>(&v)) { if (!*b) run_argv.pop_back(); }
        }
    };
    for (const char* name : {"runner", "max-workers", "launch", "retries", "slice-timeout", "fail-fast", "partition", "account"}) pass(name);
    if (parsed.values.count("sbatch-arg"))
        for (const auto& a : parsed.values["sbatch-arg"].as<std::vector<std::string>>()) run_argv.insert(run_argv.end(), {"--sbatch-arg", a});
    if (parsed.values.count("state-dir")) run_argv.insert(run_argv.end(), {"--state-dir", parsed.values["state-dir"].as<std::string>()});
    for (const auto& p : param_overrides(parsed)) run_argv.insert(run_argv.end(), {"--param", p});
    if (parsed.values["quiet"].as<bool>()) run_argv.push_back("--quiet");
    const std::string log_format = parsed.values["log-format"].as<std::string>();
    run_argv.insert(run_argv.end(), {"--log-format", log_format == "json" ? "json" : "plain"});

    WatchLock lock(project->state().watch_lock());
    claim_state_folder(project->state().root(), project->pipeline_file());
    InterruptWatch stops;
    const std::vector<fs::path> folders = watched_folders(project->pipeline());
    if (folders.empty()) throw UsageError("watch: the pipeline reads no dataset that a node does not make: there is nothing to watch");
    // Under Slurm the runs write on other machines, whose writes no event here tells.
    const bool local_runs = parsed.values["runner"].as<std::string>() != "slurm";
    const std::vector<fs::path> written = local_runs ? written_folders(project->pipeline()) : std::vector<fs::path>{};
    std::string fallback;
    const auto source = open_change_source(folders, written, backend, millis(poll_every), &fallback);
    if (!fallback.empty()) log("watch: not " + std::string(source->backend() == WatchBackend::poll ? "fanotify or inotify" : "fanotify") + ": " + fallback);
    std::vector<std::string> shown;
    for (const auto& f : folders) shown.push_back(f.string());
    log("watch: " + source->describe() + ": " + join_first(shown, 5) + " (pid " + std::to_string(::getpid()) + ")");
    const fs::path window_file = watch_dir(project->state().root()) / "window.tsv";
    project.reset();  // each run opens the pipeline file again: an edit to it takes effect at the next run

    Watcher watcher(run_argv, stops.wake_fd(), window_file);
    // What changed since the run before started: kept across waits, given to the next run.
    Changes pending;
    // Whatever happened while no watcher ran (or was killed): one run looks at everything.
    if (!watcher.run("start: everything that changed while no watcher ran", nullptr, *source, pending)) return 0;
    auto last_run = Clock::now();
    const auto quiet = millis(debounce);
    const auto longest_wait = std::max(millis(debounce * 10), std::chrono::milliseconds(10000));
    while (interrupt_signal() == 0) {
        auto wait_for = std::chrono::milliseconds(3600 * 1000);
        if (rescan_every > 0) {
            const auto due = last_run + millis(rescan_every);
            wait_for = std::max(std::chrono::milliseconds(0), std::min(wait_for, std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now())));
        }
        // Changes seen during the last run count as if seen now.
        if (!pending.any()) pending.merge(source->wait(wait_for, stops.wake_fd()));
        if (interrupt_signal() != 0) break;
        std::string why;
        bool full = false;
        if (pending.any()) {
            // Until the folders are quiet: a copy of 10,000 files is one run, not 10,000.
            const auto first = Clock::now();
            for (;;) {
                Changes more = source->wait(quiet, stops.wake_fd());
                if (interrupt_signal() != 0) break;
                const bool any = more.any();
                pending.merge(std::move(more));  // what only the runs write is listed, and does not delay
                if (!any) break;
                if (Clock::now() - first >= longest_wait) break;
            }
            if (interrupt_signal() != 0) break;
            why = changes_text(pending);
        } else if (rescan_every > 0 && Clock::now() - last_run >= millis(rescan_every)) {
            why = "the scheduled full look (--rescan-every)";
            full = true;
        } else {
            continue;  // only what the runs wrote: listed for the next one
        }
        const bool complete = !full && local_runs && pending.complete && !pending.lost && source->backend() != WatchBackend::poll;
        std::sort(pending.changed.begin(), pending.changed.end());
        pending.changed.erase(std::unique(pending.changed.begin(), pending.changed.end()), pending.changed.end());
        const std::vector<std::string> changed = std::move(pending.changed);
        pending = Changes();
        if (!watcher.run(why, complete ? &changed : nullptr, *source, pending)) break;
        last_run = Clock::now();
    }
    log("watch: stopped by " + signal_name(interrupt_signal() ? interrupt_signal() : SIGTERM));
    return 0;
}

}  // namespace steppar::cli
