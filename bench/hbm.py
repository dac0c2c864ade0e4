"""Peak HBM bandwidth of the GPUs the step benchmarks know (public
datasheets, bytes/s), by a substring of the device's name."""

PEAK_BW = {"H100": 3.35e12, "H200": 4.8e12}


def peak_bandwidth(device_name):
    for key, bw in PEAK_BW.items():
        if key in device_name:
            return bw
    return None
