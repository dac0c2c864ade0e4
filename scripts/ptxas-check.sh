#!/usr/bin/env bash
# Assembles every kernel of a module compiled with `dgc compile --target cuda`
# (MODEL.dgm/ptx/*.ptx) with ptxas for the module's chip and reports
# registers and spills. No GPU needed. Exit status 1 when a kernel does not
# assemble or spills.
#
#   scripts/ptxas-check.sh MODEL.dgm [CHIP]      (CHIP default: sm_90a)
set -euo pipefail
module=${1:?usage: scripts/ptxas-check.sh MODEL.dgm [CHIP]}
chip=${2:-sm_90a}
ptxas=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}
[ -x "$ptxas" ] || { echo "ptxas-check: no ptxas (set PTXAS or install the CUDA toolkit)"; exit 1; }
shopt -s nullglob
files=("$module"/ptx/*.ptx)
[ ${#files[@]} -gt 0 ] || { echo "ptxas-check: no kernels in $module/ptx"; exit 1; }
failed=0 spilled=0 most=0 widest=
# Kernels of identical text (the same op at the same shape in every layer)
# assemble to the same result: each text is assembled once.
declare -A seen
unique=0
for f in "${files[@]}"; do
  sum=$(sha256sum < "$f")
  [ -z "${seen[$sum]:-}" ] || continue
  seen[$sum]=1
  unique=$((unique + 1))
  if ! out=$("$ptxas" -arch="$chip" -v -o /dev/null "$f" 2>&1); then
    echo "ptxas-check: $(basename "$f") does not assemble:"
    echo "$out" | head -5
    failed=$((failed + 1))
    continue
  fi
  if echo "$out" | grep -Eq "[1-9][0-9]* bytes spill (stores|loads)"; then
    echo "ptxas-check: $(basename "$f") spills: $(echo "$out" | grep spill | head -1)"
    spilled=$((spilled + 1))
  fi
  regs=$(echo "$out" | grep -o "Used [0-9]* registers" | grep -o "[0-9]*" | sort -n | tail -1)
  if [ "${regs:-0}" -gt "$most" ]; then most=$regs; widest=$(basename "$f"); fi
done
echo "ptxas-check: ${#files[@]} kernels ($unique distinct) for $chip: $failed failed, $spilled spill; most registers $most ($widest)"
[ "$failed" -eq 0 ] && [ "$spilled" -eq 0 ]
