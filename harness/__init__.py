"""The test bed the tests (tests/) and the benchmarks (bench/) share, one
module per job: `config` (what the Pulumi CLI hands the program), `world` (the
stand-in CLIs' world, the upstream data, loopback copies of the downloads),
`servers` (loopback HTTP servers), `program` (the real program under Pulumi's
mocks), `kinds` (resource types and finders over a run) and `machine`
(whether this machine can run the real end-to-end test). Nothing here
decides what the program does: the mocks run the program's real shell scripts
against the stand-in CLIs (tests/fakes/bin), and answer for Helm and
Kubernetes the way those providers report state."""
