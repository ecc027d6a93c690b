package io.maglevlb.control.cli;

import picocli.CommandLine.IVersionProvider;

/** {@code maglevd --version}: the jar's Implementation-Version and the Java runtime. */
final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = MaglevdMain.class.getPackage().getImplementationVersion();
        return new String[] {
            "maglevd " + (version == null ? "(development build, not from a jar)" : version),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor", "unknown vendor") + ")",
        };
    }
}
