// The CLI's side of the HTTP API. See tools/cli/client.h.
#include "tools/cli/client.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "canopy/key.h"
#include "rapidjson/error/en.h"
#include "tools/cli/output.h"

namespace canopy {
namespace cli {

absl::StatusOr<HttpReply> Server::Call(absl::string_view method,
                                       absl::string_view target,
                                       absl::string_view body,
                                       absl::string_view content_type,
                                       double timeout) const {
  absl::StatusOr<HttpReply> reply =
      Send(method, target, body, content_type, timeout);
  if (reply.ok() && (reply->status < 200 || reply->status > 299)) {
    return ReplyError(*reply);
  }
  return reply;
}

absl::StatusOr<HttpReply> Server::CallAny(
    absl::string_view method, absl::string_view target, absl::string_view body,
    absl::string_view content_type) const {
  return Send(method, target, body, content_type, /*timeout=*/0);
}

absl::StatusOr<HttpReply> Server::Send(absl::string_view method,
                                       absl::string_view target,
                                       absl::string_view body,
                                       absl::string_view content_type,
                                       double timeout) const {
  HttpHeaders headers;
  if (!token_.empty()) {
    headers.emplace_back("Authorization", absl::StrCat("Bearer ", token_));
  }
  if (!content_type.empty()) {
    headers.emplace_back("Content-Type", std::string(content_type));
  }
  HttpClient client(client_.host(), client_.port(),
                    timeout > 0 ? timeout : timeout_);
  absl::StatusOr<HttpReply> reply =
      client.Request(method, target, body, headers);
  if (!reply.ok()) return Explain(reply.status());
  return reply;
}

absl::Status Server::ReplyError(const HttpReply& reply) {
  std::string message;
  rapidjson::Document doc;
  doc.Parse(reply.body.data(), reply.body.size());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("error") &&
      doc["error"].IsString()) {
    message = doc["error"].GetString();
    if (doc.HasMember("line") && doc["line"].IsUint64() &&
        doc["line"].GetUint64() > 0) {
      absl::StrAppend(&message, " (line ", doc["line"].GetUint64());
      if (doc.HasMember("column") && doc["column"].IsUint64()) {
        absl::StrAppend(&message, ", column ", doc["column"].GetUint64());
      }
      message += ")";
    }
  } else {
    absl::string_view first_line = reply.body;
    first_line = first_line.substr(0, first_line.find('\n'));
    first_line = absl::StripAsciiWhitespace(first_line);
    if (first_line.size() > 200) first_line = first_line.substr(0, 200);
    message = absl::StrCat("HTTP ", reply.status,
                           first_line.empty() ? "" : ": ", first_line);
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (reply.status == 400) code = absl::StatusCode::kInvalidArgument;
  if (reply.status == 401 || reply.status == 403) {
    code = absl::StatusCode::kPermissionDenied;
  }
  if (reply.status == 404) code = absl::StatusCode::kNotFound;
  if (reply.status == 413 || reply.status == 507) {
    code = absl::StatusCode::kResourceExhausted;
  }
  if (reply.status == 502 || reply.status == 503 || reply.status == 504) {
    code = absl::StatusCode::kUnavailable;
  }
  return absl::Status(code, message);
}

std::string Server::address() const {
  return absl::StrCat(client_.host(), ":", client_.port());
}

absl::Status Server::Explain(const absl::Status& s) const {
  if (absl::IsDeadlineExceeded(s)) {
    return absl::DeadlineExceededError(
        absl::StrCat("no reply from ", address(), " within ",
                     absl::StrFormat("%g", timeout_), "s (see --timeout)"));
  }
  if (absl::StrContains(s.message(), "cannot connect")) {
    return absl::UnavailableError(
        absl::StrCat(s.message(), " (is canopyd running? see --server)"));
  }
  return absl::Status(s.code(), absl::StrCat(address(), ": ", s.message()));
}

absl::StatusOr<rapidjson::Document> ParseReply(const HttpReply& reply) {
  rapidjson::Document doc;
  doc.Parse(reply.body.data(), reply.body.size());
  if (doc.HasParseError()) {
    return absl::DataLossError(
        absl::StrCat("the server's reply is not JSON: ",
                     rapidjson::GetParseError_En(doc.GetParseError()),
                     " at byte ", doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return absl::DataLossError("the server's reply is not a JSON object");
  }
  return doc;
}

int CallAndPrint(const Server& server, absl::string_view method,
                 absl::string_view target, bool raw,
                 absl::FunctionRef<int(const rapidjson::Document&)> print,
                 absl::string_view body, absl::string_view content_type) {
  absl::StatusOr<HttpReply> reply =
      server.Call(method, target, body, content_type);
  if (!reply.ok()) return Fail(reply.status().message());
  if (raw) return PrintRaw(*reply);
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return Fail(doc.status().message());
  return print(*doc);
}

void LoadUnits(const Server& server, const std::vector<std::string>& keys) {
  if (!ForPerson()) return;
  absl::StatusOr<HttpReply> reply = server.CallAny(
      "GET", absl::StrCat("/api/units?", KeyQuery(keys)), "", "");
  if (!reply.ok() || reply->status != 200) return;
  absl::StatusOr<rapidjson::Document> doc = ParseReply(*reply);
  if (!doc.ok()) return;
  auto units = doc->FindMember("units");
  if (units == doc->MemberEnd() || !units->value.IsObject()) return;
  absl::flat_hash_map<std::string, std::string> out;
  for (const auto& m : units->value.GetObject()) {
    if (!m.value.IsString()) continue;
    out[std::string(m.name.GetString(), m.name.GetStringLength())] =
        std::string(m.value.GetString(), m.value.GetStringLength());
  }
  SetServerUnits(out);
}

std::string KeyQuery(const std::vector<std::string>& keys) {
  std::vector<std::string> parts;
  for (const std::string& k : keys) {
    parts.push_back(absl::StrCat("key=", UrlEncode(k)));
  }
  return absl::StrJoin(parts, "&");
}

absl::Status CheckPatterns(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) {
    absl::StatusOr<Pattern> p = Pattern::Parse(k);
    if (!p.ok()) return p.status();
  }
  return absl::OkStatus();
}

void Backoff::Wait(const absl::Status& why) {
  if (failures_ == 0) {
    std::cerr << "canopy: " << why.message() << "; retrying" << std::endl;
  }
  double base = std::min(kMaxSeconds, 0.25 * (1 << std::min(failures_, 8)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  double seconds = std::min(kMaxSeconds, base * jitter(rng_));
  ++failures_;
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
}

void Backoff::Succeeded() {
  if (failures_ > 0) std::cerr << "canopy: reconnected" << std::endl;
  failures_ = 0;
}

bool Transient(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
         absl::IsDataLoss(s);
}

}  // namespace cli
}  // namespace canopy
