// The wire protocol between a step's process and its host, both ends: the child's reporter
// frames each event as one line, 0x1F + a JSON object with "e" (log, progress, error); the
// host's ChildOutput reads the lines back into events and passes everything else on as output.
#include "steppar/child_output.hpp"

#include "event_json.hpp"
#include "fd_write.hpp"
#include "steppar/owned_descriptor.hpp"

#include <nlohmann/json.hpp>

namespace steppar {
namespace {

// A line this long without a newline is passed on in pieces, so a plugin printing binary
// garbage cannot grow the host without bound.
constexpr std::size_t longest_line = 1 << 16;

constexpr char frame_start = '\x1f';

// The encoder: what make_child_reporter() returns.
class ChildReporter final : public EventSink {
public:
    explicit ChildReporter(int fd) : channel_(fd) {}

    void message(const Message& m) override {
        event_json::json j = {{"e", "log"}};
        event_json::add_message_fields(j, m);
        emit(j);
    }
    void step_progress(const StepInfo&, std::size_t done, std::size_t total) override {
        emit({{"e", "progress"}, {"done", done}, {"total", total}});
    }
    void error(std::string_view text, int exit_code) override {
        emit({{"e", "error"}, {"message", text}, {"exit_code", exit_code}});
    }
    bool wants_progress() const override { return true; }

private:
    // A node that closed the channel (every descriptor from 3 up, say) must not lose the step's
    // messages, its error above all: they go through its stderr or stdout then, when either is
    // still the same pipe. Never into a file the node opened on the channel's number.
    void emit(const event_json::json& j) {
        const std::string frame = frame_start + event_json::text_of(j) + "\n";
        if (channel_.intact()) return write_all(channel_.fd(), frame);
        const int fallback = channel_.same_file_among({STDERR_FILENO, STDOUT_FILENO});
        if (fallback < 0) return;
        if (!told_) {
            told_ = true;
            event_json::json note = {{"e", "log"}};
            const std::string text = "the node closed descriptor " + std::to_string(channel_.fd()) +
                                     " (steppar's event channel); its messages come through the node's stderr now. A node should "
                                     "close only descriptors it opened";
            Message m;
            m.level = LogLevel::warning;
            m.text = text;
            event_json::add_message_fields(note, m);
            write_all(fallback, frame_start + event_json::text_of(note) + "\n");
        }
        write_all(fallback, frame);
    }
    OwnedDescriptor channel_;
    bool told_ = false;
};


LogLevel level_from(const std::string& name) {
    if (name == "warning") return LogLevel::warning;
    if (name == "error") return LogLevel::error;
    return LogLevel::info;
}

Origin origin_from(const std::string& name) {
    if (name == "node") return Origin::node;
    if (name == "output") return Origin::output;
    return Origin::steppar;
}

}  // namespace

std::unique_ptr<EventSink> make_child_reporter(int fd) { return std::make_unique<ChildReporter>(fd); }

void ChildOutput::feed(const char* data, std::size_t size) {
    pending_.append(data, size);
    std::size_t start = 0;
    for (std::size_t end; (end = pending_.find('\n', start)) != std::string::npos; start = end + 1)
        line(std::string_view(pending_).substr(start, end - start));
    pending_.erase(0, start);
    if (pending_.size() >= longest_line) {
        line(pending_);
        pending_.clear();
    }
}

void ChildOutput::finish() {
    if (!pending_.empty()) line(pending_);
    pending_.clear();
}

void ChildOutput::line(std::string_view text) {
    // A frame may follow output the plugin left without a newline: both are kept.
    const auto frame = text.find(frame_start);
    if (frame != 0) {
        said_anything_ = true;
        Message m;
        m.origin = Origin::output;
        m.text = text.substr(0, frame);
        m.step = step_;
        events().message(m);
        if (frame == std::string_view::npos) return;
    }
    const auto j = nlohmann::json::parse(text.substr(frame + 1), nullptr, /*allow_exceptions=*/false);
    const std::string kind = j.is_object() ? j.value("e", "") : "";
    if (kind != "progress") said_anything_ = true;
    if (kind == "progress") {
        const auto done = j.value("done", std::size_t{0});
        done_ = static_cast<long long>(done);
        events().step_progress(info(), done, j.value("total", std::size_t{0}));
    } else if (kind == "error") {
        // Not shown here: the runner reports the step's failure with this message once.
        error_ = j.value("message", "");
    } else if (kind == "log") {
        const std::string message = j.value("message", ""), node = j.value("node", ""),
                          partition = j.value("partition", "");
        Message m;
        m.level = level_from(j.value("level", "info"));
        m.origin = origin_from(j.value("source", "steppar"));
        m.text = message;
        m.step = step_;
        m.node = node;
        m.partition = partition;
        events().message(m);
    } else {  // not ours after all: show it as it came
        Message m;
        m.origin = Origin::output;
        m.text = text.substr(frame + 1);
        m.step = step_;
        events().message(m);
    }
}

}  // namespace steppar
