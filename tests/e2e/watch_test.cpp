// `steppar-host watch` with each backend this machine offers: files added, edited (same size,
// old mtime), deleted, renamed and moved between folders, a burst of 10,000 files, a queue
// overflow, the watcher killed with -9 and started again: after each, once the watcher is
// quiet, the outputs equal a clean sequential run's (diff -r). And the state folder's owner: a
// cron `run` or `clean` meanwhile exits 75, a second watcher 2.
#include "harness.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>

using namespace e2e;

namespace {

std::string watch_pipeline() {
    return R"(plugins: {builtin: ./builtin.so}
catalog:
  docs:   {type: partitioned, path: data/docs, suffix: .txt}
  counts: {type: partitioned, path: out/counts, suffix: .json}
  total:  {type: file, path: out/total.json}
nodes:
  - {name: count, func: builtin.wc, inputs: [docs], outputs: [counts], slices: 2}
  - {name: total, func: builtin.wc_total, inputs: [counts], outputs: [total]}
)";
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

struct Watched {
    Workspace ws{watch_pipeline()};
    std::string backend;
    std::unique_ptr<Background> watcher;

    explicit Watched(std::string b) : backend(std::move(b)) {
        fs::copy_file(fs::path(host_program()).parent_path().parent_path() / "lib/steppar/plugins/steppar_builtin.so", ws.dir / "builtin.so");
        make_docs(ws.dir / "data/docs", 20);
        fs::create_directories(ws.dir / "data/docs/a");
        fs::create_directories(ws.dir / "data/docs/b");
        write_file(ws.dir / "data/docs/a/moving.txt", "a file that moves between folders\n");
    }
    ~Watched() {
        if (watcher) {
            watcher->signal(SIGTERM);
            watcher->wait(20);
        }
    }
    // Starts the watcher and waits for its first run; false (and its error in `refused`) when
    // it could not watch here at all.
    bool start() {
        watcher = std::make_unique<Background>(std::vector<std::string>{"watch", ws.pipeline.string(), "--backend", backend, "--debounce", "0.2",
                                                                        "--poll-every", "0.2", "--runner", "sequential"});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (occurrences(watcher->err_so_far(), "watch: run (") == 0) {
            const Result ended = watcher->wait(0.05);
            if (ended.exit_code != -1) {
                refused = ended.err;
                watcher.reset();
                return false;
            }
            BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no first run: " << watcher->err_so_far());
        }
        settle(0);
        return true;
    }
    std::string refused;
    std::size_t runs_ended() const { return occurrences(watcher->err_so_far(), "watch: run ended"); }
    // Waits until the watcher ran more than `before` times and is idle again (no run for a while).
    void settle(std::size_t before) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::size_t seen = 0;
        auto last_change = std::chrono::steady_clock::now();
        for (;;) {
            const std::string log = watcher->err_so_far();
            const std::size_t started = occurrences(log, "watch: run ("), ended = occurrences(log, "watch: run ended");
            if (ended != seen) {
                seen = ended;
                last_change = std::chrono::steady_clock::now();
            }
            if (ended > before && started == ended && std::chrono::steady_clock::now() - last_change > std::chrono::milliseconds(1200)) return;
            BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, backend << ": the watcher did not run and settle:\n" << log);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    void check(const std::string& what) {
        const std::string differences = differences_from_clean_run(ws);
        BOOST_TEST(differences.empty(), backend << ", " << what << ":\n" << differences);
        BOOST_TEST(watcher->err_so_far().find("exit code 0") != std::string::npos);
        BOOST_TEST(watcher->err_so_far().find("exit code 1") == std::string::npos, watcher->err_so_far());
    }
    // One change, then what the watcher made of it against a clean run.
    template <typename Change>
    void after(const std::string& what, Change&& change) {
        const std::size_t before = runs_ended();
        change();
        settle(before);
        check(what);
    }
};

// Every kind of change, one after another, with `backend`: after each, once the watcher is quiet,
// the outputs equal a clean run's. Then a cron run and clean meanwhile (75), a second watcher (2),
// SIGTERM (0) and a run by hand. One test case per backend, so that CTest runs them side by side.
void every_kind_of_change(const std::string& backend) {
    BOOST_TEST_CONTEXT("--backend " << backend) {
        Watched w(backend);
        if (!w.start()) {  // fanotify needs root and a filesystem with file ids: tried
            BOOST_TEST(backend == "fanotify", w.refused);  // inotify and poll work everywhere
            BOOST_TEST(w.refused.find("fanotify") != std::string::npos, w.refused);
            BOOST_TEST_MESSAGE("fanotify cannot watch here: " << w.refused);
            return;
        }
        const std::string first = w.watcher->err_so_far();
        BOOST_TEST(first.find("watch: " + backend) != std::string::npos, first);
        w.check("the first run");
        w.after("a new file", [&] { write_file(w.ws.dir / "data/docs/new.txt", "one two three\n"); });
        BOOST_TEST(fs::exists(w.ws.dir / "out/counts/new.json"));
        w.after("an edit of the same size with the old mtime", [&] {
            const fs::path doc = w.ws.dir / "data/docs/doc-0003.txt";
            struct stat st {};
            BOOST_REQUIRE(::stat(doc.c_str(), &st) == 0);
            std::string text = read_file(doc);
            for (auto& c : text)
                if (c == 'o') c = 'O';  // same size, other words
            BOOST_REQUIRE_EQUAL(text.size(), static_cast<std::size_t>(st.st_size));
            write_file(doc, text);
            set_mtime(doc, st.st_mtim.tv_sec);
        });
        w.after("a deleted file", [&] { BOOST_REQUIRE(fs::remove(w.ws.dir / "data/docs/doc-0004.txt")); });
        BOOST_TEST(!fs::exists(w.ws.dir / "out/counts/doc-0004.json"));
        w.after("a renamed file", [&] { fs::rename(w.ws.dir / "data/docs/doc-0006.txt", w.ws.dir / "data/docs/renamed.txt"); });
        w.after("a file moved to another folder", [&] { fs::rename(w.ws.dir / "data/docs/a/moving.txt", w.ws.dir / "data/docs/b/moving.txt"); });
        BOOST_TEST(fs::exists(w.ws.dir / "out/counts/b/moving.json"));
        w.after("a new folder with files", [&] {
            fs::create_directories(w.ws.dir / "data/docs/c/d");
            write_file(w.ws.dir / "data/docs/c/d/deep.txt", "deep down\n");
        });
        BOOST_TEST(fs::exists(w.ws.dir / "out/counts/c/d/deep.json"));
        // The runs so far looked at what the kernel named instead of walking (not poll: it names nothing).
        const std::size_t trusted = occurrences(w.watcher->err_so_far(), "path(s) changed since: no walk");
        BOOST_TEST((backend == "poll" ? trusted == 0 : trusted >= 10), backend << ": " << trusted << "\n" << w.watcher->err_so_far());
        // Outputs changed by someone else start no run, but the next run sees them.
        const fs::path docs = w.ws.dir / "data/docs";
        w.after("an output edited by someone else, then a new file", [&] {
            write_file(w.ws.dir / "out/counts/doc-0007.json", "{\"edited\": true}\n");
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            write_file(docs / "after-edit.txt", "after the edit\n");
        });
        w.after("an output removed by someone else, then a new file", [&] {
            BOOST_REQUIRE(fs::remove(w.ws.dir / "out/counts/doc-0008.json"));
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            write_file(docs / "after-removal.txt", "after the removal\n");
        });
        w.after("a folder renamed", [&] { fs::rename(docs / "b", docs / "b2"); });
        w.after("a new file in the renamed folder", [&] { write_file(docs / "b2/later.txt", "written after the rename\n"); });
        w.after("a folder removed", [&] { fs::remove_all(docs / "c"); });
        BOOST_TEST(!fs::exists(w.ws.dir / "out/counts/c/d/deep.json"));
        // Behind a symbolic link no event tells: from then on, the runs walk.
        w.after("a link to a file elsewhere", [&] {
            write_file(w.ws.dir / "data/elsewhere.txt", "the first words\n");
            fs::create_symlink(w.ws.dir / "data/elsewhere.txt", docs / "linked.txt");
        });
        w.after("the linked file changed, then a new file", [&] {
            write_file(w.ws.dir / "data/elsewhere.txt", "other words behind the link, more of them\n");
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            write_file(docs / "after-link.txt", "after the link changed\n");
        });
        // A cron run meanwhile: refused with 75, the outputs untouched.
        const Result cron = w.ws.run();
        BOOST_TEST(cron.exit_code == 75, cron.err);
        BOOST_TEST(cron.err.find("'steppar-host watch' (pid " + std::to_string(w.watcher->pid()) + ") owns this state folder") != std::string::npos, cron.err);
        BOOST_TEST(host({"clean", w.ws.pipeline.string()}).exit_code == 75);
        const Result second = host({"watch", w.ws.pipeline.string(), "--backend", "poll"});
        BOOST_TEST(second.exit_code == 2, second.err);
        BOOST_TEST(second.err.find("already watched (pid " + std::to_string(w.watcher->pid()) + ",") != std::string::npos, second.err);
        // Stopped by SIGTERM: exit 0; then a run by hand works again.
        w.watcher->signal(SIGTERM);
        const Result stopped = w.watcher->wait(20);
        BOOST_TEST(stopped.exit_code == 0, stopped.err);
        BOOST_TEST(stopped.err.find("watch: stopped by SIGTERM") != std::string::npos, stopped.err);
        w.watcher.reset();
        BOOST_TEST(w.ws.run({"-q"}).exit_code == 0);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch)

BOOST_AUTO_TEST_CASE(every_kind_of_change_ends_equal_to_a_clean_run_with_fanotify) { every_kind_of_change("fanotify"); }
BOOST_AUTO_TEST_CASE(every_kind_of_change_ends_equal_to_a_clean_run_with_inotify) { every_kind_of_change("inotify"); }
BOOST_AUTO_TEST_CASE(every_kind_of_change_ends_equal_to_a_clean_run_with_polling) { every_kind_of_change("poll"); }

// 10,000 files at once are a few runs, not thousands; a queue that overflows (the watcher
// stopped while files arrive, with a queue of 16 events) is said and still ends right.
BOOST_AUTO_TEST_CASE(a_burst_and_an_overflow) {
    Watched w("inotify");
    BOOST_REQUIRE(w.start());
    w.after("a burst of 10,000 files", [&] {
        fs::create_directories(w.ws.dir / "data/docs/burst");
        for (int i = 0; i < 10000; ++i) std::ofstream(w.ws.dir / ("data/docs/burst/f" + std::to_string(i) + ".txt")) << "word " << i << "\n";
    });
    BOOST_TEST(w.runs_ended() <= 6u, w.watcher->err_so_far());
    BOOST_TEST(fs::exists(w.ws.dir / "out/counts/burst/f9999.json"));

    const fs::path queue = "/proc/sys/fs/inotify/max_queued_events";
    std::ifstream in(queue);
    std::string saved;
    std::getline(in, saved);
    if (::access(queue.c_str(), W_OK) != 0 || saved.empty()) {
        BOOST_TEST_MESSAGE("cannot shrink the inotify queue here (not root): overflow not tested");
        return;
    }
    w.watcher->signal(SIGTERM);
    w.watcher->wait(20);
    std::ofstream(queue) << 16;
    w.watcher.reset();
    BOOST_REQUIRE(w.start());  // its queue has room for 16 events
    std::ofstream(queue) << saved;
    w.after("an overflowed queue", [&] {
        w.watcher->signal(SIGSTOP);
        for (int i = 0; i < 50; ++i) write_file(w.ws.dir / ("data/docs/over-" + std::to_string(i) + ".txt"), "overflow " + std::to_string(i) + "\n");
        w.watcher->signal(SIGCONT);
    });
    BOOST_TEST(w.watcher->err_so_far().find("the kernel's event queue overflowed: the run looks at every file") != std::string::npos,
               w.watcher->err_so_far());
}

// A watcher killed with -9 leaves nothing that stops the next one, which catches up at its start.
BOOST_AUTO_TEST_CASE(killed_and_started_again) {
    Watched w("inotify");
    BOOST_REQUIRE(w.start());
    ::kill(w.watcher->pid(), SIGKILL);
    w.watcher->wait(20);
    w.watcher.reset();
    write_file(w.ws.dir / "data/docs/while-dead.txt", "written while no watcher ran\n");
    BOOST_REQUIRE(fs::remove(w.ws.dir / "data/docs/doc-0001.txt"));
    BOOST_REQUIRE(w.start());
    w.check("a restart after kill -9");
    BOOST_TEST(fs::exists(w.ws.dir / "out/counts/while-dead.json"));
}

BOOST_AUTO_TEST_SUITE_END()
