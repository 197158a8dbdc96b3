"""
How the torch worker classifies a failed batch (worker.py): an error after which the device is
unusable ("sticky": the worker exits and the backend restarts it), out of memory (the cache is
emptied once the batch's memory is unreferenced), or an error of that batch alone.

Only a GPU raises the sticky errors and a device's out of memory; test/backends/worker_faults.py
injects their messages on the CPU.
"""
import frames as F

# Errors after which the device (the CUDA context) is unusable: exit, to be restarted. Matched in
# lower case against the message, as CUDA's (cudaGetErrorString) and HIP's runtimes word them.
STICKY = (
    "illegal memory access", "illegal address", "illegal instruction", "device-side assert", "unspecified launch failure",
    "launch timed out", "launch failure", "misaligned address", "ecc error", "hardware stack error", "hiperrorillegaladdress",
    "hiperrorlaunchfailure", "hiperrorlaunchtimeout", "hiperrorecc", "cudaerrorillegal", "cudaerrorlaunch",
)
# "unknown error" is sticky only when the CUDA or HIP runtime says it ("CUDA error: unknown error").
RUNTIME = ("cuda error", "hip error", "cudaerror", "hiperror")
OUT_OF_MEMORY = ("out of memory", "hiperroroutofmemory")


def is_sticky(message):
    m = message.lower()
    return any(s in m for s in STICKY) or ("unknown error" in m and any(r in m for r in RUNTIME))


def is_out_of_memory(message):
    m = message.lower()
    return any(s in m for s in OUT_OF_MEMORY)


class Failure:
    """A batch's error as text, without the exception: an exception's traceback holds the frames
    of the failed call (its activations on the device), so queueing it would keep that memory
    alive and empty_cache() could not free it; the next batch would fail out of memory too."""

    __slots__ = ("message", "brief", "sticky", "oom")

    def __init__(self, e):
        self.message = str(e)
        self.brief = F.brief(e)
        self.sticky = is_sticky(self.message)
        self.oom = is_out_of_memory(self.message)


class DeviceError(RuntimeError):
    """The device is unusable (a sticky error): the worker exits so that the backend restarts it."""
