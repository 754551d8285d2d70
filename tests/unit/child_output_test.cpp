// ChildOutput: how the host reads a step's pipe back into events, whatever the chunking.
#include <steppar/child_output.hpp>
#include <steppar/events.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>
#include <unistd.h>

using namespace steppar;

namespace child_output {  // the suite's own namespace: no clash with other files in a unity build

struct Captured {
    std::string what;  // "output", "node", "steppar" or "progress"
    std::string text, step, node, partition, level;
};

class Capture final : public EventSink {
public:
    explicit Capture(std::vector<Captured>& into) : into_(into) {}
    void message(const Message& m) override {
        into_.push_back({origin_name(m.origin), std::string(m.text), std::string(m.step), std::string(m.node),
                         std::string(m.partition), level_name(m.level)});
    }
    void step_progress(const StepInfo& s, std::size_t done, std::size_t total) override {
        into_.push_back({"progress", std::to_string(done) + "/" + std::to_string(total), std::string(s.name), {}, {}, {}});
    }
    void error(std::string_view, int) override {}

private:
    std::vector<Captured>& into_;
};

struct Fixture {
    std::vector<Captured> seen;
    std::unique_ptr<EventSink> previous = set_events(std::make_unique<Capture>(seen));
    ~Fixture() { set_events(std::move(previous)); }
};

}  // namespace child_output

BOOST_FIXTURE_TEST_SUITE(child_output, Fixture)

BOOST_AUTO_TEST_CASE(lines_split_across_reads_are_joined_and_attributed) {
    ChildOutput out("count-slice-2", "count", steppar::StepKind::slice, 2);
    const std::string stream = "plain text\n\x1f{\"e\":\"log\",\"level\":\"warning\",\"source\":\"node\",\"node\":\"wc\","
                               "\"partition\":\"a/b\",\"message\":\"two\\nlines\"}\n\x1f{\"e\":\"progress\",\"done\":3,\"total\":9}\n";
    for (std::size_t i = 0; i < stream.size(); i += 7) out.feed(stream.data() + i, std::min<std::size_t>(7, stream.size() - i));
    out.finish();
    BOOST_TEST_REQUIRE(seen.size() == 3u);
    BOOST_TEST(seen[0].what == "output");
    BOOST_TEST(seen[0].text == "plain text");
    BOOST_TEST(seen[0].step == "count-slice-2");
    BOOST_TEST(seen[1].what == "node");
    BOOST_TEST(seen[1].level == "warning");
    BOOST_TEST(seen[1].node == "wc");
    BOOST_TEST(seen[1].partition == "a/b");
    BOOST_TEST(seen[1].text == "two\nlines");
    BOOST_TEST(seen[2].what == "progress");
    BOOST_TEST(seen[2].text == "3/9");
    BOOST_TEST(out.partitions_done() == 3);
}

BOOST_AUTO_TEST_CASE(a_frame_after_unterminated_output_keeps_both) {
    ChildOutput out("n", "n", steppar::StepKind::node, -1);
    const std::string stream = "no newline\x1f{\"e\":\"log\",\"message\":\"m\"}\n";
    out.feed(stream.data(), stream.size());
    BOOST_TEST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].text == "no newline");
    BOOST_TEST(seen[0].what == "output");
    BOOST_TEST(seen[1].what == "steppar");
    BOOST_TEST(seen[1].text == "m");
}

BOOST_AUTO_TEST_CASE(errors_are_kept_for_the_runner_and_not_shown_twice) {
    ChildOutput out("n", "n", steppar::StepKind::node, -1);
    const std::string stream = "\x1f{\"e\":\"error\",\"message\":\"node 'n' failed: boom\",\"exit_code\":1}\n";
    out.feed(stream.data(), stream.size());
    BOOST_TEST(seen.empty());
    BOOST_TEST(out.error() == "node 'n' failed: boom");
    BOOST_TEST(out.partitions_done() == -1);
}

BOOST_AUTO_TEST_CASE(broken_frames_and_endless_lines_are_passed_on_as_output) {
    ChildOutput out("s", "s", steppar::StepKind::slice, 0);
    const std::string broken = "\x1f{not json\n";
    out.feed(broken.data(), broken.size());
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].what == "output");
    BOOST_TEST(seen[0].text == "{not json");
    seen.clear();
    const std::string endless(200000, 'x');
    out.feed(endless.data(), endless.size());
    BOOST_TEST(seen.size() == 1u);  // passed on once 64 KiB wait without a newline
    BOOST_TEST(seen[0].text.size() == 200000u);
    seen.clear();
    out.feed("tail", 4);
    out.finish();
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].text == "tail");
}

// A Slurm task's output file is read back for the error its steppar-host ended with, whatever
// format it was written in: the reader must match each sink's writer.
BOOST_AUTO_TEST_CASE(the_error_line_of_each_log_format_reads_back) {
    for (const LogFormat format : {LogFormat::plain, LogFormat::json}) {
        int ends[2];
        BOOST_REQUIRE(::pipe(ends) == 0);
        {
            const auto sink = make_event_sink(format, ends[1]);
            Message m;
            m.text = "steppar-host: error: a log line that only looks like one";
            sink->message(m);
            sink->error("input 'docs' partition 'a.txt': permission denied; fix and rerun", 4);
        }
        ::close(ends[1]);
        std::string written(4096, '\0');
        written.resize(static_cast<std::size_t>(::read(ends[0], written.data(), written.size())));
        ::close(ends[0]);
        std::vector<std::string> said;
        for (std::size_t start = 0, end; (end = written.find('\n', start)) != std::string::npos; start = end + 1)
            said.push_back(error_reported_in(std::string_view(written).substr(start, end - start)));
        BOOST_TEST_INFO("format " << static_cast<int>(format) << ": " << written);
        BOOST_REQUIRE(said.size() == 2u);
        BOOST_TEST(said[0] == "");
        BOOST_TEST(said[1] == "input 'docs' partition 'a.txt': permission denied; fix and rerun");
    }
    BOOST_TEST(error_reported_in("") == "");
    BOOST_TEST(error_reported_in("{not json") == "");
}

BOOST_AUTO_TEST_SUITE_END()
