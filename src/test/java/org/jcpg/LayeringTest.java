package org.jcpg;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import java.util.Set;
import org.jcpg.testsupport.UnitTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering of docs/architecture.md, checked on the compiled classes.
 *
 * <pre>
 *   stubs  &lt;-  internal  &lt;-  facades (CpgConnection, CpgEventLoop, ZeroCopyBuffer, CpgListener)
 *               \             /
 *                vocabulary (every other class of org.jcpg: values, events, errors)
 *   bundling, tool, examples: the public API only (facades and vocabulary)
 * </pre>
 *
 * <p>The vocabulary stays in {@code org.jcpg} (moving public types would
 * break every user), so the rules are stated per class, not per package:
 * the internal layer may name vocabulary types but never a facade, not
 * even through a vocabulary type; only the facades name the internal
 * layer. The test imports the library's classes and the examples (which
 * compile with the tests), whatever directory they come from.
 */
@UnitTest
class LayeringTest {
    private static final Set<String> FACADES = Set.of(
            "org.jcpg.CpgConnection", "org.jcpg.CpgEventLoop", "org.jcpg.ZeroCopyBuffer", "org.jcpg.CpgListener");

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter()
                .withImportOption(location -> !location.contains("/org/jcpg/")
                        || !location.contains("test-classes") || location.contains("/org/jcpg/examples/"))
                .importPackages("org.jcpg");
    }

    /** A facade, or one of its nested classes. */
    private static final DescribedPredicate<JavaClass> FACADE = DescribedPredicate.describe(
            "a facade " + FACADES, c -> FACADES.contains(outermost(c).getName()));

    private static final DescribedPredicate<JavaClass> VOCABULARY = DescribedPredicate.describe(
            "vocabulary (org.jcpg but not a facade)",
            c -> c.getPackageName().equals("org.jcpg") && !FACADE.test(c));

    private static JavaClass outermost(JavaClass c) {
        JavaClass outer = c;
        while (outer.getEnclosingClass().isPresent()) {
            outer = outer.getEnclosingClass().get();
        }
        return outer;
    }

    private static String layer(JavaClass c) {
        String pkg = c.getPackageName();
        if (pkg.startsWith("org.jcpg.internal.stubs")) {
            return "stubs";
        }
        if (pkg.startsWith("org.jcpg.internal")) {
            return "internal";
        }
        if (pkg.equals("org.jcpg")) {
            return FACADE.test(c) ? "facades" : "vocabulary";
        }
        if (pkg.startsWith("org.jcpg.bundling")) {
            return "bundling";
        }
        if (pkg.startsWith("org.jcpg.tool")) {
            return "tool";
        }
        if (pkg.startsWith("org.jcpg.examples")) {
            return "examples";
        }
        return null;
    }

    @Test
    void theStubsUseNothingOfJcpgButThemselves() {
        noClasses().that().resideInAPackage("org.jcpg.internal.stubs..")
                .should().dependOnClassesThat(DescribedPredicate.describe("jcpg outside the stubs",
                        c -> c.getPackageName().startsWith("org.jcpg")
                                && !c.getPackageName().startsWith("org.jcpg.internal.stubs")))
                .check(classes);
    }

    @Test
    void onlyTheFacadesUseTheInternalLayer() {
        classes().that().resideInAPackage("org.jcpg.internal..")
                .should().onlyHaveDependentClassesThat(DescribedPredicate.describe(
                        "are internal or a facade",
                        c -> c.getPackageName().startsWith("org.jcpg.internal") || FACADE.test(c)))
                .check(classes);
    }

    @Test
    void theInternalLayerNeverReachesAFacade() {
        noClasses().that().resideInAPackage("org.jcpg.internal..")
                .should().transitivelyDependOnClassesThat(FACADE)
                .check(classes);
    }

    /**
     * No hidden links: a class named in a string escapes every rule here.
     * The internal layer reaches GroupName's package-private members through
     * a private lookup on the class itself, not through a facade.
     */
    @Test
    void theInternalLayerLoadsNoClassByName() {
        noClasses().that().resideInAPackage("org.jcpg.internal..")
                .should().callMethod(Class.class, "forName", String.class)
                .orShould().callMethod(Class.class, "forName", String.class, boolean.class, ClassLoader.class)
                .check(classes);
    }

    @Test
    void theVocabularyNamesNoFacade() {
        noClasses().that(VOCABULARY)
                .should().dependOnClassesThat(FACADE)
                .check(classes);
    }

    @Test
    void bundlingToolAndExamplesUseOnlyThePublicApi() {
        noClasses().that().resideInAnyPackage("org.jcpg.bundling..", "org.jcpg.tool..", "org.jcpg.examples..")
                .should().dependOnClassesThat().resideInAPackage("org.jcpg.internal..")
                .check(classes);
    }

    @Test
    void theLibraryNeverUsesItsClients() {
        noClasses().that().resideInAnyPackage("org.jcpg", "org.jcpg.internal..")
                .should().dependOnClassesThat().resideInAnyPackage("org.jcpg.bundling..", "org.jcpg.tool..",
                        "org.jcpg.examples..")
                .check(classes);
    }

    @Test
    void noCycleBetweenLayers() {
        slices().assignedFrom(new SliceAssignment() {
            @Override
            public SliceIdentifier getIdentifierOf(JavaClass c) {
                String layer = layer(c);
                return layer == null ? SliceIdentifier.ignore() : SliceIdentifier.of(layer);
            }

            @Override
            public String getDescription() {
                return "jcpg's layers";
            }
        }).should().beFreeOfCycles().check(classes);
    }

    @Test
    void noCycleBetweenPackagesOutsideTheRoot() {
        slices().matching("org.jcpg.(*)..").should().beFreeOfCycles().check(classes);
    }
}
