// fixture_tool - the sample checks' window on troupe::FixtureServer.
//
//   fixture_tool serve [--latency PREFIX=MS]... [--fail PREFIX=STATUS]... [--cut PREFIX=BYTES]...
//                      [--malformed PREFIX]...
//       Starts a FixtureServer with those faults, prints its base URL on a line of its own,
//       and serves until SIGTERM or SIGINT; then prints "max in flight: N" and "requests: N".
//   fixture_tool image N | rfc N      writes the exact bytes the server serves to stdout
//   fixture_tool words N              prints rfc_word_count(N)
//   fixture_tool check-rates FILE     checks a `fetcher --json` report against the rates the
//                                     server serves: every rate equal, at least one present
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <troupe/fixture_server.hpp>

namespace {

/// Splits "PREFIX=VALUE"; throws CLI::ValidationError otherwise.
std::pair<std::string, long> split(const std::string& spec) {
  auto eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0)
    throw CLI::ValidationError(spec, "expected PREFIX=NUMBER");
  return {spec.substr(0, eq), std::stol(spec.substr(eq + 1))};
}

int serve(const std::vector<std::string>& latency, const std::vector<std::string>& fail,
          const std::vector<std::string>& cut, const std::vector<std::string>& malformed) {
  // Block the signals before the server starts its threads, so only sigwait sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  troupe::FixtureServer server;
  for (const auto& s : latency) {
    auto [prefix, ms] = split(s);
    server.set_latency(prefix, std::chrono::milliseconds(ms));
  }
  for (const auto& s : fail) {
    auto [prefix, status] = split(s);
    server.set_failure(prefix, static_cast<int>(status));
  }
  for (const auto& s : cut) {
    auto [prefix, bytes] = split(s);
    server.cut_after(prefix, static_cast<std::size_t>(bytes));
  }
  for (const auto& prefix : malformed) server.set_malformed(prefix);

  std::printf("%s\n", server.base_url().c_str());
  std::fflush(stdout);
  int signo = 0;
  sigwait(&stop, &signo);
  // What the checks of --max-concurrent read: the most requests handled at the same time.
  std::printf("max in flight: %zu\nrequests: %llu\n", server.max_in_flight(),
              static_cast<unsigned long long>(server.requests()));
  std::fflush(stdout);
  return 0;
}

int check_rates(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "check-rates: cannot read %s\n", path.c_str());
    return 1;
  }
  nlohmann::json report = nlohmann::json::parse(in);
  troupe::FixtureServer reference;  // content is a pure function: any server serves the same
  long compared = 0;
  long wrong = 0;
  for (auto& [mode, result] : report.at("modes").items()) {
    for (auto& [base, rates] : result.at("rates").items()) {
      for (auto& [code, value] : rates.items()) {
        double expected = code == base ? 1.0 : reference.rate(base, code);
        double got = value.get<double>();
        ++compared;
        if (got != expected) {
          ++wrong;
          std::fprintf(stderr, "check-rates: %s: %s -> %s: got %.17g, the fixture serves %.17g\n",
                       mode.c_str(), base.c_str(), code.c_str(), got, expected);
        }
      }
    }
  }
  std::printf("check-rates: %ld rates compared, %ld wrong\n", compared, wrong);
  return compared > 0 && wrong == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fixture_tool: serve or print troupe::FixtureServer content for the sample checks"};
  app.require_subcommand(1);

  std::vector<std::string> latency, fail, cut, malformed;
  auto* serve_cmd = app.add_subcommand("serve", "serve until SIGTERM; prints the base URL");
  serve_cmd->add_option("--latency", latency, "PREFIX=MS");
  serve_cmd->add_option("--fail", fail, "PREFIX=STATUS");
  serve_cmd->add_option("--cut", cut, "PREFIX=BYTES");
  serve_cmd->add_option("--malformed", malformed, "PREFIX");

  int n = 0;
  auto* image_cmd = app.add_subcommand("image", "the bytes of /images/N.jpg");
  image_cmd->add_option("N", n)->required();
  auto* rfc_cmd = app.add_subcommand("rfc", "the text of /rfc/rfcN.txt");
  rfc_cmd->add_option("N", n)->required();
  auto* words_cmd = app.add_subcommand("words", "the word count of /rfc/rfcN.txt");
  words_cmd->add_option("N", n)->required();
  std::string file;
  auto* check_cmd = app.add_subcommand("check-rates", "check a fetcher --json report");
  check_cmd->add_option("FILE", file)->required();
  CLI11_PARSE(app, argc, argv);

  try {
    if (*serve_cmd) return serve(latency, fail, cut, malformed);
    if (*check_cmd) return check_rates(file);
    troupe::FixtureServer server;
    if (*image_cmd) std::cout << server.image(n);
    if (*rfc_cmd) std::cout << server.rfc(n);
    if (*words_cmd) std::cout << server.rfc_word_count(n) << "\n";
    return std::cout.flush() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fixture_tool: %s\n", e.what());
    return 1;
  }
}
