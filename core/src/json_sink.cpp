// --log-format json: one JSON object per event and line, for log collectors.
#include "event_json.hpp"
#include "fd_write.hpp"
#include "sinks.hpp"
#include "steppar/events.hpp"
#include "steppar/log.hpp"

namespace steppar {
namespace {

using namespace event_json;

class JsonSink final : public EventSink {
public:
    explicit JsonSink(int fd) : fd_(fd) {}

    void message(const Message& m) override {
        json j = event("log");
        if (!m.step.empty()) j["step"] = m.step;
        add_message_fields(j, m);
        emit(j);
    }
    void run_started(const RunStart& r) override {
        json j = event("run_start");
        j["pipeline"] = r.pipeline;
        if (!r.run_id.empty()) j["run_id"] = r.run_id;
        j["runner"] = r.runner;
        j["workers"] = r.workers;
        j["steps"] = r.steps;
        j["units"] = json::array();
        for (const auto& u : r.units) j["units"].push_back({{"name", u.name}, {"kind", u.kind}, {"slices", u.slices}});
        emit(j);
    }
    void unit_planned(std::string_view unit, std::size_t partitions) override {
        json j = event("unit_planned");
        j["unit"] = unit;
        j["partitions"] = partitions;
        emit(j);
    }
    void step_started(const StepInfo& s, long long partitions) override {
        json j = event("step_start");
        j.update(step_fields(s));
        if (partitions >= 0) j["partitions"] = partitions;
        emit(j);
    }
    void step_ended(const StepInfo& s, const StepEnd& e) override {
        json j = event("step_end");
        j.update(step_fields(s));
        j["status"] = status_name(e.status);
        j["seconds"] = e.seconds;
        if (e.partitions >= 0) j["partitions"] = e.partitions;
        j["attempt"] = e.attempt;
        if (e.status == StepStatus::retrying) j["max_attempts"] = e.max_attempts;
        if (!e.message.empty()) j["message"] = e.message;
        if (e.metrics && !e.metrics->empty()) j["metrics"] = *e.metrics;
        if (e.skipped) j["skipped"] = e.skipped;
        emit(j);
    }
    void run_ended(const RunEnd& r) override {
        json j = event("run_end");
        j["status"] = r.status;
        j["seconds"] = r.seconds;
        j["steps"] = r.steps;
        j["ran"] = r.ran;
        j["up_to_date"] = r.up_to_date;
        j["failed"] = r.failed;
        j["not_run"] = r.not_run;
        j["exit_code"] = r.exit_code;
        if (!r.message.empty()) j["message"] = r.message;
        emit(j);
    }
    void error(std::string_view text, int exit_code) override {
        json j = event("error");
        j["message"] = text;
        j["exit_code"] = exit_code;
        emit(j);
    }

private:
    static json event(const char* name) { return {{"time", utc_timestamp()}, {"event", name}}; }
    void emit(const json& j) { write_all(fd_, text_of(j) + "\n"); }
    int fd_;
};

}  // namespace

std::unique_ptr<EventSink> make_json_sink(int fd) { return std::make_unique<JsonSink>(fd); }

std::optional<std::string> json_error(std::string_view line) {
    if (line.empty() || line.front() != '{') return std::nullopt;
    const auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || j.value("event", "") != "error") return std::nullopt;
    return j.value("message", "");
}

}  // namespace steppar
