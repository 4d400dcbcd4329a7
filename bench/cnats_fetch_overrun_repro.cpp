// bench/cnats_fetch_overrun_repro.cpp - cnats 3.4.1's natsSubscription_Fetch overrunning its
// batch array, with raw cnats only (no troupe code). Not built by meson:
//
//   g++ -std=c++20 -O1 -g bench/cnats_fetch_overrun_repro.cpp -o /tmp/overrun -lnats -lpthread
//   nats-server -a 127.0.0.1 -p 14222 -js -sd /tmp/overrun-store &
//   /tmp/overrun nats://127.0.0.1:14222          # Fetch as is: aborts (3 runs of 3 here)
//   /tmp/overrun nats://127.0.0.1:14222 guarded  # one at a time while queued: no abort
//
// 4 threads each fetch batches of 64 with a 1 ms wait (ClusterQueue's shortest) from one
// durable pull consumer while the main thread publishes 100,000 messages. A 1 ms wait often
// runs out before the server's answer arrives, so messages are queued on the subscription
// when the next Fetch starts; with more than 32 queued, _fetch() reads past its array of 64
// and this program prints "OVERRUN: ..." just before glibc aborts.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>

namespace {

void check(natsStatus s, const char* what) {
  if (s == NATS_OK) return;
  std::fprintf(stderr, "%s: %s\n", what, natsStatus_GetText(s));
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: overrun NATS_URL [guarded]\n");
    return 2;
  }
  const char* url = argv[1];
  bool guarded = argc > 2 && std::string(argv[2]) == "guarded";
  const int items = 100'000, batch = 64;
  std::string stream = "OVERRUN" + std::to_string(getpid());
  std::string subject = "overrun." + std::to_string(getpid());

  natsConnection* nc = nullptr;
  check(natsConnection_ConnectTo(&nc, url), "connect");
  jsCtx* js = nullptr;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 4096;
  check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = stream.c_str();
  const char* subjects[] = {subject.c_str()};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Retention = js_WorkQueuePolicy;
  check(js_AddStream(nullptr, js, &sc, nullptr, nullptr), "add stream");
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "workers";
  cc.AckPolicy = js_AckExplicit;
  cc.MaxAckPending = 20000;
  check(js_AddConsumer(nullptr, js, stream.c_str(), &cc, nullptr, nullptr), "add consumer");

  std::atomic<int> acked{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      natsConnection* c = nullptr;
      check(natsConnection_ConnectTo(&c, url), "connect");
      jsCtx* wjs = nullptr;
      check(natsConnection_JetStream(&wjs, c, nullptr), "jetstream");
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = stream.c_str();
      so.Consumer = "workers";
      natsSubscription* sub = nullptr;
      check(js_PullSubscribe(&sub, wjs, subject.c_str(), "workers", nullptr, &so, nullptr),
            "pull subscribe");
      while (acked.load() < items) {
        int queued = 0;
        natsSubscription_GetPending(sub, &queued, nullptr);
        int n = guarded && queued > 0 ? 1 : batch;
        natsMsgList list{nullptr, 0};
        if (natsSubscription_Fetch(&list, sub, n, 1, nullptr) == NATS_OK) {
          if (list.Count > n) {
            std::fprintf(stderr,
                         "OVERRUN: Fetch(batch %d) returned %d messages (%d queued before)\n", n,
                         list.Count, queued);
          }
          for (int i = 0; i < list.Count; ++i) natsMsg_Ack(list.Msgs[i], nullptr);
          acked += list.Count;
        }
        natsMsgList_Destroy(&list);
      }
      natsSubscription_Destroy(sub);
      jsCtx_Destroy(wjs);
      natsConnection_Destroy(c);
    });
  }
  for (long long i = 0; i < items; ++i) {
    check(js_PublishAsync(js, subject.c_str(), &i, sizeof i, nullptr), "publish");
  }
  check(js_PublishAsyncComplete(js, nullptr), "publish complete");
  for (auto& t : workers) t.join();
  js_DeleteStream(js, stream.c_str(), nullptr, nullptr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  std::printf("ok: %d messages acknowledged, no overrun\n", acked.load());
  return 0;
}
