#include "steppar/marker.hpp"

#include "sealed_json.hpp"
#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"

#include <nlohmann/json.hpp>

namespace steppar {

std::string to_json(const Marker& m) {
    nlohmann::json j = {{"format", Marker::format}, {"unit", m.unit},       {"slice", m.slice},
                        {"plan_id", m.plan_id},     {"generation", m.generation}, {"written", m.written}, {"fingerprint", m.fingerprint}, {"status", m.success ? "success" : "failed"},
                        {"partitions", m.partitions}, {"outputs", m.outputs}, {"pid", m.pid},
                        {"host", m.host},           {"seconds", m.seconds}};
    if (!m.success) j["error"] = {{"partition", m.failed_partition}, {"message", m.message}};
    // Optional (absent in markers of older steppar releases): counters and skipped outputs.
    if (!m.metrics.empty()) j["metrics"] = m.metrics;
    if (m.skipped) j["skipped"] = m.skipped;
    if (!m.definition.empty()) j["definition"] = m.definition;
    return seal(j);
}

Marker marker_from_json(std::string_view text, const std::string& origin) {
    try {
        auto j = nlohmann::json::parse(text);
        if (j.at("format").get<int>() != Marker::format)
            throw StateError("marker '" + origin + "' has format " + j.at("format").dump() + ", expected " +
                             std::to_string(Marker::format));
        unseal(j, "marker", origin, "rerun to make it again");
        Marker m;
        m.unit = j.at("unit").get<std::string>();
        m.slice = j.at("slice").get<int>();
        m.plan_id = j.at("plan_id").get<std::string>();
        m.generation = j.at("generation").get<std::uint64_t>();
        m.written = j.at("written").get<std::map<std::string, std::string>>();
        m.fingerprint = j.at("fingerprint").get<std::string>();
        const auto status = j.at("status").get<std::string>();
        if (status != "success" && status != "failed")
            throw StateError("marker '" + origin + "' has unknown status '" + status + "'");
        m.success = status == "success";
        m.partitions = j.at("partitions").get<std::size_t>();
        m.outputs = j.at("outputs").get<std::vector<std::string>>();
        m.pid = j.at("pid").get<long>();
        m.host = j.at("host").get<std::string>();
        m.seconds = j.at("seconds").get<double>();
        if (j.contains("metrics")) m.metrics = j.at("metrics").get<std::map<std::string, long long>>();
        if (j.contains("skipped")) m.skipped = j.at("skipped").get<std::size_t>();
        if (j.contains("definition")) m.definition = j.at("definition").get<std::string>();
        if (!m.success) {
            m.failed_partition = j.at("error").at("partition").get<std::string>();
            m.message = j.at("error").at("message").get<std::string>();
        }
        return m;
    } catch (const nlohmann::json::exception& e) {
        throw StateError("marker '" + origin + "' is corrupt (" + e.what() + ")");
    }
}

void write_marker(const std::filesystem::path& path, const Marker& marker) {
    write_file_atomically(path, to_json(marker), AtomicFile::Durability::durable);
}

std::optional<Marker> read_marker(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    return marker_from_json(read_file(path), path.string());
}

}  // namespace steppar
