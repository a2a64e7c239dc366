// TLS end to end: a coordinator with a certificate (made here by the openssl command, signed by a
// CA made here too), a worker and the test's client that trust that CA, and a two-rank job whose
// ranks bootstrap through the coordinator's rendezvous over TLS as well. A plaintext client is
// refused.
#include "tests/service/service_fixture.h"

namespace gradpool::testing {
namespace {

// A CA and a certificate for 127.0.0.1/localhost signed by it, in `dir`. False if openssl fails.
bool make_certificates(const fs::path& dir) {
  const std::string d = dir.string();
  const std::vector<Args> steps = {
      {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
       "/CN=gradpool test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.crt"},
      {"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
       d + "/coordinator.key", "-out", d + "/coordinator.csr"},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    ChildProcess step(steps[i], dir / ("openssl-" + std::to_string(i)));
    if (step.wait() != 0) return false;
  }
  write_file_atomic(d + "/san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  ChildProcess sign({"openssl", "x509", "-req", "-in", d + "/coordinator.csr", "-CA", d + "/ca.crt",
                     "-CAkey", d + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile",
                     d + "/san.ext", "-out", d + "/coordinator.crt"},
                    dir / "openssl-sign");
  return sign.wait() == 0;
}

TEST_F(ServiceTest, TlsCoordinatorWorkersAndRanks) {
  ASSERT_TRUE(make_certificates(dir_))
      << "the openssl command failed (scripts/setup.sh installs it)";
  ca_cert_ = (dir_ / "ca.crt").string();
  start_coordinator({"--tls-cert", (dir_ / "coordinator.crt").string(), "--tls-key",
                     (dir_ / "coordinator.key").string()});
  start_worker("secure", 2);
  wait_for_workers(1);
  const std::string alice = add_token("alice", "user");

  const uint64_t id = submit_ok(alice, job_spec("secure", 2, 4, (dir_ / "out").string()));
  const v1::Job job = wait_for_state(id, v1::JOB_SUCCEEDED);
  EXPECT_EQ(job.attempt(), 1);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "adapter_model.safetensors"));

  // The same call in plaintext does not get through.
  v1::Job plain;
  const std::string ca = ca_cert_;
  ca_cert_.clear();
  EXPECT_EQ(get_job(alice, id, &plain).error_code(), grpc::StatusCode::UNAVAILABLE);
  ca_cert_ = ca;
}

}  // namespace
}  // namespace gradpool::testing
