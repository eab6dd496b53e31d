package org.jcpg;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.stream.Collectors;
import org.jcpg.testsupport.NodeTest;
import org.junit.jupiter.api.Test;

/** The module exports the API and nothing of its plumbing or the generated stubs. */
@NodeTest
class ModuleTest {
    @Test
    void exportsOnlyThePublicApi() throws URISyntaxException {
        Path classes = Path.of(CpgConnection.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        ModuleDescriptor module = ModuleFinder.of(classes).find("org.jcpg").orElseThrow().descriptor();

        assertThat(module.exports().stream().map(ModuleDescriptor.Exports::source).collect(Collectors.toSet()))
                .containsExactlyInAnyOrder("org.jcpg", "org.jcpg.bundling");
        assertThat(module.packages()).contains("org.jcpg.internal", "org.jcpg.internal.stubs");
        assertThat(module.requires().stream().map(ModuleDescriptor.Requires::name).collect(Collectors.toSet()))
                .containsExactly("java.base");
    }
}
