package newsarc.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * One OpenSearch node of a local test cluster, in its own JVM.
 *
 * <p>OpenSearch's server jar plus the Netty transport and analysis-common modules, loaded as classpath
 * plugins (as OpenSearch's own test framework does), so no distribution is needed. Arguments:
 * {@code HOME INDEX NODES HTTP_BASE TRANSPORT_BASE}: node number INDEX of NODES listens on
 * 127.0.0.1:HTTP_BASE+INDEX (HTTP) and TRANSPORT_BASE+INDEX (transport), keeps its data under HOME and
 * discovers the others on the neighbouring transport ports. Security is off: plain HTTP, no users.
 */
public final class ClusterNode extends Node {

    private ClusterNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5) {
            System.err.println("usage: ClusterNode HOME INDEX NODES HTTP_BASE TRANSPORT_BASE");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int index = Integer.parseInt(args[1]);
        int nodes = Integer.parseInt(args[2]);
        int httpBase = Integer.parseInt(args[3]);
        int transportBase = Integer.parseInt(args[4]);

        List<String> seeds = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            seeds.add("127.0.0.1:" + (transportBase + i));
            names.add("node-" + i);
        }
        Files.createDirectories(home.resolve("data"));
        Files.createDirectories(home.resolve("logs"));
        Settings settings = Settings.builder()
            .put("cluster.name", "newsarc-local")
            .put("node.name", names.get(index))
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpBase + index)
            .put("transport.port", transportBase + index)
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .putList("discovery.seed_hosts", seeds)
            .putList("cluster.initial_cluster_manager_nodes", names)
            // a shared 2-core test machine: few threads, no disk-watermark surprises
            .put("node.processors", 1)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", false)
            .build();

        LogConfigurator.configureWithoutConfig(settings);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), null, () -> names.get(index));
        ClusterNode node = new ClusterNode(
            environment, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                System.err.println("close failed: " + e);
            }
            stopped.countDown();
        }));
        node.start();
        System.out.println("started " + names.get(index) + " http 127.0.0.1:" + (httpBase + index));
        stopped.await();
    }
}
